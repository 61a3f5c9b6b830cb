{{/*
Labels Helm adds to every object, besides the kustomize base's own.
*/}}
{{- define "distsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/part-of: distsync
{{- end }}

{{/*
The groups of files/ this release deploys, as a YAML list.
*/}}
{{- define "distsync.groups" -}}
{{- include "distsync.checkPartitions" . }}
- auth
{{- range $name, $svc := .Values.services }}
{{- if $svc.enabled }}
- {{ $name }}
{{- end }}
{{- end }}
{{- if and .Values.topology.enabled .Values.topology.operator }}
- topology-operator
{{- else if .Values.topology.enabled }}
- topology
{{- end }}
{{- if .Values.rabbitmq.enabled }}
- rabbitmq
{{- end }}
{{- if .Values.mongodb.enabled }}
- mongodb
{{- end }}
{{- if eq .Values.autoscaling.mode "keda" }}
- keda
{{- else if eq .Values.autoscaling.mode "hpa" }}
- hpa
{{- else if ne .Values.autoscaling.mode "none" }}
{{- fail "autoscaling.mode must be keda, hpa or none" }}
{{- end }}
{{- if .Values.monitoring.serviceMonitors }}
- monitoring
{{- end }}
{{- if .Values.webhooks.ingress.enabled }}
- webhook-ingress
{{- end }}
{{- if .Values.webhooks.gateway.enabled }}
- webhook-gateway
{{- end }}
{{- if .Values.reconcile.enabled }}
- reconcile
{{- end }}
{{- end }}

{{/*
Refuses partition counts the deployment cannot serve (docs/deploy.md, "Partitions"): an
autoscaler maximum above them (a replica beyond them would hold nothing), and, with the topology
operator, counts other than those its generated Queue objects (files/topology-operator) declare.
*/}}
{{- define "distsync.checkPartitions" -}}
{{- range $name, $svc := .Values.services }}
{{- if hasKey $svc "partitions" }}
{{- $n := int $svc.partitions }}
{{- if and (gt $n 1) (ne $.Values.autoscaling.mode "none") (gt (int $svc.maxReplicas) $n) }}
{{- fail (printf "services.%s.maxReplicas (%d) exceeds services.%s.partitions (%d): the replicas beyond it would hold no partition" $name (int $svc.maxReplicas) $name $n) }}
{{- end }}
{{- if and (gt $n 1) (eq $.Values.autoscaling.mode "none") (gt (int $svc.replicas) $n) }}
{{- fail (printf "services.%s.replicas (%d) exceeds services.%s.partitions (%d): the replicas beyond it would hold no partition" $name (int $svc.replicas) $name $n) }}
{{- end }}
{{- if and $.Values.topology.enabled $.Values.topology.operator }}
{{- $last := $.Files.Glob (printf "files/topology-operator/Queue-queue-%s.part.%d-*.yaml" $name (sub $n 1)) }}
{{- $next := $.Files.Glob (printf "files/topology-operator/Queue-queue-%s.part.%d-*.yaml" $name $n) }}
{{- if or (and (gt $n 1) (not $last)) $next }}
{{- fail (printf "services.%s.partitions (%d) differs from the topology operator's Queue objects: run deploy/rabbitmq/generate_topology_operator.py with that count, or use the topology Job" $name $n) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Whether an object of an optional group belongs to a disabled service (prints "skip").
*/}}
{{- define "distsync.skip" -}}
{{- $doc := .doc -}}
{{- $services := .root.Values.services -}}
{{- if has .group (list "keda" "hpa" "monitoring") -}}
{{- $name := $doc.metadata.name -}}
{{- if hasKey $services $name -}}
{{- if not (index $services $name).enabled }}skip{{ end -}}
{{- else if and (eq $name "rabbitmq") (not .root.Values.rabbitmq.enabled) }}skip
{{- end -}}
{{- end -}}
{{- if and (has .group (list "webhook-ingress" "webhook-gateway")) (not (index $services "carrier-tracking").enabled) }}skip{{ end -}}
{{- end }}

{{/*
Applies the values to one object of files/ (in place).
*/}}
{{- define "distsync.adjust" -}}
{{- $doc := .doc -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $meta := $doc.metadata -}}
{{- $_ := set $meta "namespace" $root.Release.Namespace -}}
{{- $labels := merge (default dict $meta.labels) (include "distsync.labels" $root | fromYaml) -}}
{{- if has $doc.kind (list "ServiceMonitor" "PrometheusRule") -}}
{{- $labels = merge $labels $v.monitoring.labels -}}
{{- end -}}
{{- if eq $doc.kind "PrometheusRule" -}}
{{- range $doc.spec.groups -}}
{{- range .rules -}}
{{- if and .annotations .annotations.runbook_url -}}
{{- $_ := set .annotations "runbook_url" (printf "%s%s" $v.monitoring.runbookBaseURL .annotations.runbook_url) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $meta "labels" $labels -}}
{{- if hasKey $v.services .group -}}
{{- $svc := index $v.services .group -}}
{{- if and (eq $doc.kind "ConfigMap") (hasKey $svc "partitions") (eq $doc.metadata.name (printf "%s-config" .group)) -}}
{{- $_ := set $doc.data "DISTSYNC_PARTITIONS" (toString (int $svc.partitions)) -}}
{{- end -}}
{{- if eq $doc.kind "Deployment" -}}
{{- $pod := $doc.spec.template.spec -}}
{{- $c := index $pod.containers 0 -}}
{{- $_ := set $c "image" (printf "%s/%s:%s" $v.image.registry .group (default $v.image.tag $svc.tag)) -}}
{{- $_ := set $c "imagePullPolicy" $v.image.pullPolicy -}}
{{- range $c.envFrom -}}
{{- if .secretRef -}}
{{- if eq .secretRef.name (printf "%s-secrets" $doc.metadata.name) -}}
{{- $_ := set .secretRef "name" $svc.secretName -}}
{{- else if eq .secretRef.name "carrier-tracking-webhooks" -}}
{{- $_ := set .secretRef "name" $v.webhooks.secretName -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $pod.volumes -}}
{{- if and .secret (eq .secret.secretName "distsync-api-keys") -}}
{{- $_ := set .secret "secretName" $v.auth.apiKeysSecretName -}}
{{- end -}}
{{- end -}}
{{- if eq $v.autoscaling.mode "none" -}}
{{- $_ := set $doc.spec "replicas" (int $svc.replicas) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if eq $doc.kind "ScaledObject" -}}
{{- $svc := index $v.services $doc.metadata.name -}}
{{- $_ := set $doc.spec "minReplicaCount" (int $svc.minReplicas) -}}
{{- $_ := set $doc.spec "maxReplicaCount" (int $svc.maxReplicas) -}}
{{- if hasKey $svc "partitions" -}}
{{- include "distsync.partitionTriggers" (dict "doc" $doc "count" (int $svc.partitions)) -}}
{{- end -}}
{{- else if eq $doc.kind "HorizontalPodAutoscaler" -}}
{{- $svc := index $v.services $doc.metadata.name -}}
{{- $_ := set $doc.spec "minReplicas" (int $svc.minReplicas) -}}
{{- $_ := set $doc.spec "maxReplicas" (int $svc.maxReplicas) -}}
{{- else if eq $doc.kind "TriggerAuthentication" -}}
{{- range $doc.spec.secretTargetRef -}}
{{- $_ := set . "name" $v.autoscaling.kedaSecretName -}}
{{- end -}}
{{- else if and (eq $doc.kind "ConfigMap") (eq $doc.metadata.name "distsync-auth") -}}
{{- $data := $doc.data -}}
{{- $_ := set $data "DISTSYNC_AUTH_MODE" $v.auth.mode -}}
{{- $_ := set $data "DISTSYNC_AUTH_ISSUER" $v.auth.issuer -}}
{{- $_ := set $data "DISTSYNC_AUTH_AUDIENCE" $v.auth.audience -}}
{{- if $v.auth.jwksUrl -}}
{{- $_ := set $data "DISTSYNC_AUTH_JWKS_URL" $v.auth.jwksUrl -}}
{{- end -}}
{{- else if and (eq $doc.kind "ConfigMap") (eq $doc.metadata.name "reconcile-config") -}}
{{- $_ := set $doc.data "DISTSYNC_RECONCILE_SNAPSHOT" $v.reconcile.snapshot -}}
{{- else if eq $doc.kind "CronJob" -}}
{{- $c := index $doc.spec.jobTemplate.spec.template.spec.containers 0 -}}
{{- $_ := set $c "image" (printf "%s/tools:%s" $v.image.registry (default $v.image.tag $v.reconcile.tag)) -}}
{{- $_ := set $c "imagePullPolicy" $v.image.pullPolicy -}}
{{- else if and (eq $doc.kind "ConfigMap") (eq $doc.metadata.name "carrier-tracking-config") -}}
{{- $_ := set $doc.data "DISTSYNC_CARRIER_TRACKING_WEBHOOK_AUTH" (toJson $v.webhooks.auth) -}}
{{- else if eq $doc.kind "Job" -}}
{{- $c := index $doc.spec.template.spec.containers 0 -}}
{{- if eq .group "topology" -}}
{{- $_ := set $c "image" (printf "%s/tools:%s" $v.image.registry (default $v.image.tag $v.topology.tag)) -}}
{{- $args := list "distsync" "topology" "apply" -}}
{{- range $name, $svc := $v.services -}}
{{- if hasKey $svc "partitions" -}}
{{- $args = concat $args (list "--partitions" (printf "%s=%d" $name (int $svc.partitions))) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $c "args" $args -}}
{{- $_ := set $c "imagePullPolicy" $v.image.pullPolicy -}}
{{- else -}}
{{- $_ := set $c "image" $v.mongodb.image -}}
{{- end -}}
{{- $ann := default dict $meta.annotations -}}
{{- $_ := set $ann "helm.sh/hook" "post-install,post-upgrade" -}}
{{- $_ := set $ann "helm.sh/hook-delete-policy" "before-hook-creation" -}}
{{- $_ := set $meta "annotations" $ann -}}
{{- else if eq $doc.kind "StatefulSet" -}}
{{- range concat $doc.spec.template.spec.initContainers $doc.spec.template.spec.containers -}}
{{- $_ := set . "image" $v.mongodb.image -}}
{{- end -}}
{{- else if eq $doc.kind "RabbitmqCluster" -}}
{{- $_ := set $doc.spec "image" $v.rabbitmq.image -}}
{{- $_ := set $doc.spec "replicas" (int $v.rabbitmq.replicas) -}}
{{- else if eq $doc.kind "Ingress" -}}
{{- $spec := $doc.spec -}}
{{- $_ := set $spec "ingressClassName" $v.webhooks.ingress.className -}}
{{- $_ := set $spec "tls" (list (dict "hosts" (list $v.webhooks.host) "secretName" $v.webhooks.ingress.tlsSecretName)) -}}
{{- $_ := set (index $spec.rules 0) "host" $v.webhooks.host -}}
{{- $_ := set $meta "annotations" (merge (dict) $v.webhooks.ingress.annotations (default dict $meta.annotations)) -}}
{{- else if eq $doc.kind "HTTPRoute" -}}
{{- $g := $v.webhooks.gateway -}}
{{- $_ := set $doc.spec "hostnames" (list $v.webhooks.host) -}}
{{- $_ := set $doc.spec "parentRefs" (list (dict "group" "gateway.networking.k8s.io" "kind" "Gateway" "name" $g.name "namespace" $g.namespace "sectionName" $g.sectionName)) -}}
{{- end -}}
{{- end }}

{{/*
A ScaledObject's queue triggers for `count` partitions (in place): its first trigger (the main
queue) and one copy per partition queue, summed by scalingModifiers.
*/}}
{{- define "distsync.partitionTriggers" -}}
{{- $spec := .doc.spec -}}
{{- $main := index $spec.triggers 0 -}}
{{- $queue := $main.metadata.queueName -}}
{{- $svc := trimSuffix ".main" $queue -}}
{{- $triggers := list $main -}}
{{- $names := list $main.name -}}
{{- if gt .count 1 -}}
{{- range $i := until .count -}}
{{- $t := deepCopy $main -}}
{{- $_ := set $t "name" (printf "part%d" $i) -}}
{{- $_ := set $t.metadata "queueName" (printf "%s.part.%d" $svc $i) -}}
{{- $triggers = append $triggers $t -}}
{{- $names = append $names $t.name -}}
{{- end -}}
{{- end -}}
{{- $_ := set $spec "triggers" $triggers -}}
{{- $_ := set $spec.advanced.scalingModifiers "formula" (join " + " $names) -}}
{{- end }}
