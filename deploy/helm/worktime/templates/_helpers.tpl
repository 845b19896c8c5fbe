{{/* Names and labels shared by every template. */}}
{{- define "worktime.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "worktime.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "worktime.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "worktime.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "worktime.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "worktime.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (api, worker, migrate): pass (dict "ctx" $ "component" "api"). */}}
{{- define "worktime.selectorLabels" -}}
app.kubernetes.io/name: {{ include "worktime.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "worktime.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "worktime.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "worktime.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "worktime.secretName" -}}
{{- default (include "worktime.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Environment of the API and worker containers: the ConfigMap and the Secret. */}}
{{- define "worktime.envFrom" -}}
- configMapRef:
    name: {{ include "worktime.fullname" . }}
- secretRef:
    name: {{ include "worktime.secretName" . }}
{{- end -}}

{{/* Writable places under a read-only root filesystem. */}}
{{- define "worktime.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: exports
  {{- if .Values.exports.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.exports.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end -}}

{{- define "worktime.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: exports
  mountPath: {{ .Values.exports.mountPath }}
{{- end -}}

{{- define "worktime.podSpecCommon" -}}
serviceAccountName: {{ include "worktime.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
