{{/* Chart name, truncated to 63 characters. */}}
{{- define "spoke-interconnect.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label value. */}}
{{- define "spoke-interconnect.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name, truncated to 63 characters. */}}
{{- define "spoke-interconnect.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels. */}}
{{- define "spoke-interconnect.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spoke-interconnect.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels. */}}
{{- define "spoke-interconnect.labels" -}}
helm.sh/chart: {{ include "spoke-interconnect.chart" . }}
{{ include "spoke-interconnect.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vanlink
vanlink.io/spoke: {{ include "spoke-interconnect.clusterName" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The cluster name (clusterName, else the release name), validated. */}}
{{- define "spoke-interconnect.clusterName" -}}
{{- $name := .Values.clusterName | default .Release.Name -}}
{{- include "vanlink.dns1123" (dict "value" $name "what" "clusterName") -}}
{{- $name -}}
{{- end -}}

{{/* Namespace of every namespaced object: namespace.name, else the release namespace. */}}
{{- define "spoke-interconnect.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/*
Checks of values the schema cannot express, run once per render (from the
Namespace template): label syntax, Helm's global.
*/}}
{{- define "spoke-interconnect.validate" -}}
{{- include "vanlink.global.validate" .Values.global -}}
{{- include "vanlink.labels.validate" (dict "labels" .Values.commonLabels "what" "commonLabels") -}}
{{- include "vanlink.labels.validate" (dict "labels" .Values.namespace.labels "what" "namespace.labels") -}}
{{- end -}}

{{/* Sync-wave annotation. */}}
{{- define "spoke-interconnect.wave" -}}
argocd.argoproj.io/sync-wave: {{ . | quote }}
{{- end -}}
