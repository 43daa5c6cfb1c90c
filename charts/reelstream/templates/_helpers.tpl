{{/* Names, labels and the pieces every pod shares. */}}

{{- define "reelstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "reelstream.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "reelstream.labels" -}}
{{ include "reelstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: reelstream
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Every pod of this release carries this label; NetworkPolicies select on it. */}}
{{- define "reelstream.instanceLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* `repository:tag`, and `@digest` when the digest is known: every image reference of the chart. */}}
{{- define "reelstream.imageRef" -}}
{{- printf "%s:%s" .repository .tag -}}{{- with .digest -}}@{{ . }}{{- end -}}
{{- end -}}

{{/* reelstream's own images, under image.registry when it is set. */}}
{{- define "reelstream.image" -}}
{{- $img := .image -}}
{{- $registry := .root.Values.image.registry -}}
{{- if $registry -}}{{ printf "%s/" $registry }}{{- end -}}{{ include "reelstream.imageRef" $img }}
{{- end -}}

{{- define "reelstream.kafkaBootstrap" -}}
{{- if eq .Values.kafka.mode "strimzi" -}}
{{- printf "%s-kafka-bootstrap:9092" .Values.kafka.strimzi.clusterName -}}
{{- else -}}
{{- required "kafka.external.bootstrap is required when kafka.mode=external" .Values.kafka.external.bootstrap -}}
{{- end -}}
{{- end -}}

{{- define "reelstream.registryUrl" -}}
{{- if eq .Values.schemaRegistry.mode "apicurio" -}}
{{- printf "https://%s-registry:8443/apis/ccompat/v7" (include "reelstream.fullname" .) -}}
{{- else -}}
{{- required "schemaRegistry.external.url is required when schemaRegistry.mode=external" .Values.schemaRegistry.external.url -}}
{{- end -}}
{{- end -}}

{{- define "reelstream.s3Endpoint" -}}
{{- if eq .Values.s3.mode "minio" -}}
{{- printf "http://%s-minio:9000" (include "reelstream.fullname" .) -}}
{{- else -}}
{{- required "s3.external.endpoint is required when s3.mode=external" .Values.s3.external.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every reelstream process: endpoints from the ConfigMap, secrets by reference. */}}
{{/* A service's own S3 user: (dict "root" $ "service" "ingest"|"worker"|"streams"). */}}
{{- define "reelstream.commonEnv" -}}
{{- $s3 := .root.Values.secrets.s3 -}}
- name: REELSTREAM_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ index .root.Values.secrets.s3Users .service }}
      key: {{ $s3.accessKeyKey }}
- name: REELSTREAM_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ index .root.Values.secrets.s3Users .service }}
      key: {{ $s3.secretKeyKey }}
{{- end -}}

{{/* A service's Kafka principal (strimzi mode: SASL SCRAM-SHA-512 over TLS, its KafkaUser's Secret, the
cluster CA mounted): .root, .principal (a name of files/kafka_users.json). */}}
{{- define "reelstream.kafkaEnv" -}}
{{- if eq .root.Values.kafka.mode "strimzi" -}}
- name: REELSTREAM_KAFKA_SECURITY_PROTOCOL
  value: SASL_SSL
- name: REELSTREAM_KAFKA_USERNAME
  value: {{ include "reelstream.kafkaUser" . | quote }}
- name: REELSTREAM_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "reelstream.kafkaUser" . }}
      key: password
- name: REELSTREAM_KAFKA_CA_FILE
  value: /etc/reelstream/kafka-ca/ca.crt
{{- end -}}
{{- end -}}

{{/* A service's schema registry user (apicurio mode: HTTP basic over HTTPS, its password from the generated
registry users' Secret, the registry's CA mounted): .root, .principal (a name of files/registry_users.json). */}}
{{- define "reelstream.registryEnv" -}}
{{- if eq .root.Values.schemaRegistry.mode "apicurio" -}}
- name: REELSTREAM_SCHEMA_REGISTRY_USERNAME
  value: {{ .principal | quote }}
- name: REELSTREAM_SCHEMA_REGISTRY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.registryUsers }}
      key: {{ .principal }}
- name: REELSTREAM_SCHEMA_REGISTRY_CA_FILE
  value: /etc/reelstream/registry-ca/ca.crt
{{- end -}}
{{- end -}}

{{/* The registry's environment variable holding a user's password: REGISTRY_PASSWORD_<NAME>. */}}
{{- define "reelstream.registryPasswordVar" -}}
{{- printf "REGISTRY_PASSWORD_%s" (. | upper | replace "-" "_") -}}
{{- end -}}

{{- define "reelstream.registryCaMount" -}}
{{- if eq .Values.schemaRegistry.mode "apicurio" -}}
- name: registry-ca
  mountPath: /etc/reelstream/registry-ca
  readOnly: true
{{- end -}}
{{- end -}}

{{- define "reelstream.registryCaVolume" -}}
{{- if eq .Values.schemaRegistry.mode "apicurio" -}}
- name: registry-ca
  secret:
    secretName: {{ .Values.schemaRegistry.apicurio.tls.secretName }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end -}}
{{- end -}}

{{/* The KafkaUser (and its Secret) of a principal: <clusterName>-<principal>. */}}
{{- define "reelstream.kafkaUser" -}}
{{- printf "%s-%s" .root.Values.kafka.strimzi.clusterName .principal -}}
{{- end -}}

{{- define "reelstream.kafkaCaMount" -}}
{{- if eq .Values.kafka.mode "strimzi" -}}
- name: kafka-ca
  mountPath: /etc/reelstream/kafka-ca
  readOnly: true
{{- end -}}
{{- end -}}

{{- define "reelstream.kafkaCaVolume" -}}
{{- if eq .Values.kafka.mode "strimzi" -}}
- name: kafka-ca
  secret:
    secretName: {{ printf "%s-cluster-ca-cert" .Values.kafka.strimzi.clusterName }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end -}}
{{- end -}}

{{- define "reelstream.envFrom" -}}
- configMapRef:
    name: {{ include "reelstream.fullname" . }}-env
{{- end -}}

{{- define "reelstream.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "reelstream.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/*
Faust services and GPU workers have no HTTP port (Faust's web server is disabled; /metrics arrives with the
observability issue). Their probe is an exec of the image's own Python that fails when PID 1 (the service) is a
zombie, stopped or dead; it cannot see a hung event loop, and says no more than that.
*/}}
{{- define "reelstream.processProbe" -}}
exec:
  command:
    - python
    - -c
    - "import sys; s = open('/proc/1/stat').read().rsplit(')', 1)[1].split()[0]; sys.exit(s in 'ZTXx')"
{{- end -}}

{{- define "reelstream.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* The key-encryption keys (a Secret) as a read-only directory, and REELSTREAM_KEY_DIR naming it. */}}
{{- define "reelstream.keysVolume" -}}
- name: keys
  secret:
    secretName: {{ .Values.secrets.keyEncryptionKeys.name }}
    defaultMode: 0400
{{- end -}}

{{- define "reelstream.keysMount" -}}
- name: keys
  mountPath: {{ .Values.secrets.keyEncryptionKeys.mountPath }}
  readOnly: true
{{- end -}}

{{- define "reelstream.keysEnv" -}}
- name: REELSTREAM_KEY_DIR
  value: {{ .Values.secrets.keyEncryptionKeys.mountPath | quote }}
{{- end -}}

{{- define "reelstream.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* An Alertmanager matcher string (name="value", =~, !=, !~) as an AlertmanagerConfig matcher. */}}
{{- define "reelstream.matcher" -}}
{{- $op := regexFind "(=~|!~|!=|=)" . -}}
{{- $parts := splitn $op 2 . -}}
- name: {{ $parts._0 }}
  value: {{ $parts._1 | trimPrefix "\"" | trimSuffix "\"" | quote }}
  matchType: {{ $op | quote }}
{{- end }}
