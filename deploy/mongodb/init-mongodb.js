// Initiates the replica set (once) and creates one user per distsync service, with readWrite on
// that service's own database only. Idempotent: safe to run on every start.
//
// Run with mongosh, connected as the root user directly to the first member, e.g.
//   mongosh "mongodb://mongodb:27017/admin?directConnection=true" --username root \
//     --password "$MONGO_ROOT_PASSWORD" --authenticationDatabase admin \
//     --file deploy/mongodb/init-mongodb.js
// Environment:
//   MONGO_RS_NAME       replica set name (default rs0)
//   MONGO_RS_MEMBERS    comma-separated host:port list, first one preferred as primary
//   MONGO_PASSWORD_<SERVICE>  one per service, e.g. MONGO_PASSWORD_ORDER_STATUS (required)

const SERVICES = ["availability", "order-status", "receipt", "returns", "carrier-tracking", "ingress"];

const rsName = process.env.MONGO_RS_NAME || "rs0";
const members = (process.env.MONGO_RS_MEMBERS || "mongodb:27017")
  .split(",")
  .map((h) => h.trim())
  .filter((h) => h.length > 0);

function replicaSetInitiated() {
  try {
    rs.status();
    return true;
  } catch (e) {
    if (e.codeName === "NotYetInitialized" || e.code === 94) {
      return false;
    }
    throw e;
  }
}

if (!replicaSetInitiated()) {
  const config = {
    _id: rsName,
    members: members.map((host, i) => ({ _id: i, host: host, priority: i === 0 ? 2 : 1 })),
  };
  print(`initiating replica set ${rsName} with ${members.join(", ")}`);
  rs.initiate(config);
}

const deadline = Date.now() + 120 * 1000;
while (!db.hello().isWritablePrimary) {
  if (Date.now() > deadline) {
    throw new Error("no writable primary after 120 s");
  }
  sleep(500);
}

for (const service of SERVICES) {
  const envName = "MONGO_PASSWORD_" + service.toUpperCase().replace(/-/g, "_");
  const password = process.env[envName];
  if (!password) {
    throw new Error(`${envName} is not set`);
  }
  const dbName = "distsync_" + service.replace(/-/g, "_");
  const target = db.getSiblingDB(dbName);
  const roles = [{ role: "readWrite", db: dbName }];
  if (target.getUser(service) === null) {
    target.createUser({ user: service, pwd: password, roles: roles });
    print(`created user ${service} on ${dbName}`);
  } else {
    target.updateUser(service, { pwd: password, roles: roles });
    print(`updated user ${service} on ${dbName}`);
  }
}
// The on-call tools (`distsync dlq`, `distsync trace`): their own archive and audit database,
// and read access to each service database for tracing. Optional: only when a password is set.
const opsPassword = process.env.MONGO_PASSWORD_OPS;
if (opsPassword) {
  const admin = db.getSiblingDB("distsync_admin");
  const opsRoles = [{ role: "readWrite", db: "distsync_admin" }].concat(
    SERVICES.map((s) => ({ role: "read", db: "distsync_" + s.replace(/-/g, "_") })),
  );
  if (admin.getUser("ops") === null) {
    admin.createUser({ user: "ops", pwd: opsPassword, roles: opsRoles });
    print("created user ops on distsync_admin");
  } else {
    admin.updateUser("ops", { pwd: opsPassword, roles: opsRoles });
    print("updated user ops on distsync_admin");
  }
}
print("mongodb init done");
