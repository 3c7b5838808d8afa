{{/* Chart name, truncated to 63 characters. */}}
{{- define "service-interconnect.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name, truncated to 63 characters. */}}
{{- define "service-interconnect.fullname" -}}
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

{{/* Chart label value. */}}
{{- define "service-interconnect.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels. */}}
{{- define "service-interconnect.selectorLabels" -}}
app.kubernetes.io/name: {{ include "service-interconnect.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels. */}}
{{- define "service-interconnect.labels" -}}
helm.sh/chart: {{ include "service-interconnect.chart" . }}
{{ include "service-interconnect.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vanlink
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Namespace of every namespaced object: namespace.name, else the release namespace. */}}
{{- define "service-interconnect.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/*
Checks of values the schema cannot express, run once per render (from the
Namespace template): label syntax, Helm's global.
*/}}
{{- define "service-interconnect.validate" -}}
{{- include "vanlink.global.validate" .Values.global -}}
{{- include "vanlink.labels.validate" (dict "labels" .Values.commonLabels "what" "commonLabels") -}}
{{- include "vanlink.labels.validate" (dict "labels" .Values.namespace.labels "what" "namespace.labels") -}}
{{- include "vanlink.labels.validate" (dict "labels" .Values.sync.podLabels "what" "sync.podLabels") -}}
{{- include "vanlink.selector.validate" (dict "value" .Values.sync.clusterSelector "what" "sync.clusterSelector") -}}
{{- include "vanlink.selector.validate" (dict "value" .Values.sync.direct.secretSelector "what" "sync.direct.secretSelector") -}}
{{- $placement := (.Values.sync.placement | default dict).name -}}
{{- if and .Values.sync.clusterSelector $placement -}}
{{- fail (printf "sync.clusterSelector %q and sync.placement.name %q both choose the spokes: set one (the Placement's own predicates can hold the selector)" .Values.sync.clusterSelector $placement) -}}
{{- end -}}
{{- if eq .Values.sync.transport "direct" -}}
{{- if $placement -}}
{{- fail (printf "sync.transport direct chooses the spokes by their credential Secrets (sync.direct.secretSelector): sync.placement.name %q is for the acm and manifestwork transports" $placement) -}}
{{- end -}}
{{- if .Values.sync.clusterSelector -}}
{{- fail (printf "sync.transport direct chooses the spokes by their credential Secrets (sync.direct.secretSelector): sync.clusterSelector %q is for the acm and manifestwork transports" .Values.sync.clusterSelector) -}}
{{- end -}}
{{- end -}}
{{- include "service-interconnect.validateFlags" . -}}
{{- if and (eq .Values.sync.rbac.scope "namespaced") (ne .Values.sync.transport "direct") (not (.Values.catalog | default dict).spokes) -}}
{{- fail "sync.rbac.scope namespaced binds the jobs in the hub namespace of each spoke of catalog.spokes, and catalog.spokes is empty: list the spokes or use scope cluster" -}}
{{- end -}}
{{- end -}}

{{/*
Checks of the values that become vanlink's flags, so that the chart refuses at
render time, naming the value, what the vanlink binary would refuse on every
run of the hook, the CronJob or the controller (internal/cli: passflags.go,
options.go, sync.go, controller.go; internal/cli/chartargs_test.go renders
boundary values and parses the arguments with the CLI's own flags). The schema
checks what a pattern or a minimum can say (names, concurrency, verbosity,
link cost, the duration syntax); these check what it cannot.
*/}}
{{- define "service-interconnect.validateFlags" -}}
{{- $v := .Values -}}
{{- $c := $v.controller | default dict -}}
{{- if and $c.enabled (not $v.sync.enabled) -}}
{{- fail "controller.enabled=true needs sync.enabled=true: the controller runs with the sync ServiceAccount, its RBAC and the sync.* settings, and sync.enabled=false renders none of them (set sync.enabled=true, or controller.enabled=false)" -}}
{{- end -}}
{{- $ns := include "service-interconnect.namespace" . -}}
{{- if or (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $ns)) (gt (len $ns) 63) -}}
{{- fail (printf "the release namespace %q (used when namespace.name is empty) is not a DNS-1123 label, which vanlink's --namespace needs: set namespace.name" $ns) -}}
{{- end -}}
{{- range $what, $d := dict "sync.spokeTimeout" $v.sync.spokeTimeout "sync.observeTimeout" $v.sync.observeTimeout "sync.requestTimeout" $v.sync.requestTimeout "sync.hook.grantTimeout" $v.sync.hook.grantTimeout -}}
{{- include "service-interconnect.durationAtLeast" (dict "value" $d "what" $what "min" 1 "want" "must be positive") -}}
{{- end -}}
{{- range $what, $d := dict "sync.linkReadyTimeout" $v.sync.linkReadyTimeout "sync.rotation.expiryMargin" $v.sync.rotation.expiryMargin -}}
{{- include "service-interconnect.durationAtLeast" (dict "value" $d "what" $what "min" 0 "want" "must not be negative") -}}
{{- end -}}
{{- if $c.enabled -}}
{{- include "service-interconnect.durationAtLeast" (dict "value" $c.resync "what" "controller.resync" "min" 1000000000 "want" "must be at least 1s") -}}
{{- end -}}
{{- end -}}

{{/*
The nanoseconds of a duration value as Go's time.ParseDuration reads it (each
component truncated to whole nanoseconds), as a string. Call with (dict "value"
V "what" "the.value"); fails naming the value when V is no duration (the
schema's pattern: numbers with units, 30s, 1.5h, 1h30m) or exceeds Go's
longest duration (about 2562047h).
*/}}
{{- define "service-interconnect.durationNanos" -}}
{{- $d := toString .value -}}
{{- if not (regexMatch "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$" $d) -}}
{{- fail (printf "%s %q is not a duration: numbers with units (ns, us, ms, s, m, h), e.g. 30s, 5m, 1h30m" .what $d) -}}
{{- end -}}
{{- $units := dict "ns" 1.0 "us" 1000.0 "µs" 1000.0 "ms" 1000000.0 "s" 1000000000.0 "m" 60000000000.0 "h" 3600000000000.0 -}}
{{- $total := 0.0 -}}
{{- range $part := regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" $d -1 -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $part -}}
{{- $total = addf $total (floor (mulf (float64 $num) (get $units (trimPrefix $num $part)))) -}}
{{- end -}}
{{- if ge $total 9223372036854775807.0 -}}
{{- fail (printf "%s %q is longer than any duration Go can hold (about 2562047h)" .what $d) -}}
{{- end -}}
{{- printf "%.0f" $total -}}
{{- end -}}

{{/*
Fails unless the duration value is at least min nanoseconds. Call with (dict
"value" V "what" "the.value" "min" N "want" "must be positive").
*/}}
{{- define "service-interconnect.durationAtLeast" -}}
{{- if lt (include "service-interconnect.durationNanos" .  | float64) (float64 .min) -}}
{{- fail (printf "%s %q %s (vanlink refuses it)" .what (toString .value) .want) -}}
{{- end -}}
{{- end -}}

{{/* Name of the sync jobs' ServiceAccount. */}}
{{- define "service-interconnect.serviceAccountName" -}}
{{- if .Values.sync.serviceAccount.create -}}
{{- default (printf "%s-sync" (include "service-interconnect.fullname" .)) .Values.sync.serviceAccount.name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- required "sync.serviceAccount.name is required when sync.serviceAccount.create is false" .Values.sync.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The vanlink image: repository:tag or repository@digest; never latest. */}}
{{- define "service-interconnect.image" -}}
{{- $img := .Values.sync.image -}}
{{- $tag := $img.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}
{{- fail "sync.image.tag: \"latest\" is not allowed; pin a version (default: the chart's appVersion) or set sync.image.digest" -}}
{{- end -}}
{{- $repo := include "vanlink.imageRef" (dict "image" $img.repository "registry" (.Values.global | default dict).imageRegistry) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* Sync-wave annotation. */}}
{{- define "service-interconnect.wave" -}}
argocd.argoproj.io/sync-wave: {{ . | quote }}
{{- end -}}


{{/*
Pod template spec of the sync jobs. Call with (dict "root" $ "policy" "postsync"|"cron").
The pod passes the Kubernetes "restricted" Pod Security Standard.
*/}}
{{- define "service-interconnect.syncPod" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $ns := include "service-interconnect.namespace" $root -}}
{{- /* The Job's activeDeadlineSeconds bounds the pass: observing the fleet
may not take longer than the Job may run. */ -}}
{{- $deadline := ternary $v.sync.hook.activeDeadlineSeconds $v.sync.cronJob.activeDeadlineSeconds (eq .policy "postsync") -}}
{{- $observe := $v.sync.observeTimeout -}}
{{- if gt (include "service-interconnect.durationNanos" (dict "value" $observe "what" "sync.observeTimeout") | float64) (mulf $deadline 1000000000.0) -}}
{{- $observe = printf "%ds" (int64 $deadline) -}}
{{- end -}}
metadata:
  labels:
    {{- include "service-interconnect.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: token-sync
    {{- with $v.sync.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.sync.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "service-interconnect.serviceAccountName" $root }}
  restartPolicy: Never
  # On SIGTERM (e.g. the Job's activeDeadlineSeconds) vanlink cleans up and
  # exits within 25 seconds.
  terminationGracePeriodSeconds: 30
  {{- with $v.sync.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- $pullSecrets := include "vanlink.pullSecrets" (dict "local" $v.sync.imagePullSecrets "global" ($v.global | default dict).imagePullSecrets) | fromYamlArray }}
  {{- with $pullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sync.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: vanlink
      image: {{ include "service-interconnect.image" $root | quote }}
      imagePullPolicy: {{ $v.sync.image.pullPolicy }}
      args:
        - sync
        - --policy={{ .policy }}
        - --namespace={{ $ns }}
        - --grant={{ $v.grant.name }}
        - --token-name={{ $v.token.name }}
        - --spoke-namespace={{ $v.token.spokeNamespace }}
        {{- if $v.token.linkCost }}
        - --link-cost={{ $v.token.linkCost }}
        {{- end }}
        - --transport={{ $v.sync.transport }}
        {{- if eq $v.sync.transport "direct" }}
        - --credentials-namespace={{ $v.sync.direct.secretNamespace | default $ns }}
        - --credentials-selector={{ $v.sync.direct.secretSelector }}
        {{- else if $v.sync.placement.name }}
        - --placement={{ $v.sync.placement.namespace | default $ns }}/{{ $v.sync.placement.name }}
        {{- else if $v.sync.clusterSelector }}
        - --cluster-selector={{ $v.sync.clusterSelector }}
        {{- end }}
        {{- if and (ne $v.sync.transport "direct") (eq $v.sync.rbac.scope "namespaced") }}
        - --hub-namespaces={{ join "," ($v.catalog | default dict).spokes }}
        {{- end }}
        - --concurrency={{ $v.sync.concurrency }}
        - --spoke-timeout={{ $v.sync.spokeTimeout }}
        - --observe-timeout={{ $observe }}
        - --request-timeout={{ $v.sync.requestTimeout }}
        - --link-ready-timeout={{ $v.sync.linkReadyTimeout }}
        - --fail-on={{ $v.sync.failOn }}
        {{- if eq .policy "postsync" }}
        - --grant-timeout={{ $v.sync.hook.grantTimeout }}
        - --fresh
        {{- end }}
        {{- if $v.sync.rotation.enabled }}
        - --rotate-grant
        - --expiry-margin={{ $v.sync.rotation.expiryMargin }}
        {{- end }}
        {{- if $v.sync.prune }}
        - --prune
        {{- end }}
        - --status-configmap={{ $v.sync.statusConfigMap }}
        - --lease={{ $v.sync.leaseName }}
        - --log-format=json
        - -v={{ $v.sync.verbosity }}
        {{- range $v.sync.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- with $v.sync.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.sync.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.sync.extraVolumeMounts }}
      volumeMounts:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.sync.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  {{- with $v.sync.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sync.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sync.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sync.extraVolumes }}
  volumes:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
Fails unless the argument is a valid CronJob schedule: five fields (minute,
hour, day of month, month, day of week) of numbers in range, *, ranges, lists,
steps and month/day names, or one of the @ macros.
*/}}
{{- define "service-interconnect.validateSchedule" -}}
{{- $s := trim . -}}
{{- $what := printf "sync.cronJob.schedule: %q" $s -}}
{{- if hasPrefix "@" $s -}}
{{- if not (has $s (list "@yearly" "@annually" "@monthly" "@weekly" "@daily" "@midnight" "@hourly")) -}}
{{- fail (printf "%s is not a cron macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)" $what) -}}
{{- end -}}
{{- else -}}
{{- $fields := regexSplit "\\s+" $s -1 -}}
{{- if ne (len $fields) 5 -}}
{{- fail (printf "%s has %d fields; a schedule has five: minute hour day-of-month month day-of-week" $what (len $fields)) -}}
{{- end -}}
{{- $names := list "minute" "hour" "day-of-month" "month" "day-of-week" -}}
{{- $mins := list 0 0 1 1 0 -}}
{{- $maxs := list 59 23 31 12 7 -}}
{{- range $i, $f := $fields -}}
{{- range $part := splitList "," $f -}}
{{- if not (regexMatch "^(\\*|\\?|[0-9]+(-[0-9]+)?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/[1-9][0-9]*)?$" $part) -}}
{{- fail (printf "%s: the %s field %q is not valid" $what (index $names $i) $f) -}}
{{- end -}}
{{- $base := first (splitList "/" $part) -}}
{{- range $n := regexFindAll "[0-9]+" $base -1 -}}
{{- if or (lt (atoi $n) (index $mins $i)) (gt (atoi $n) (index $maxs $i)) -}}
{{- fail (printf "%s: the %s field value %s is out of range %d-%d" $what (index $names $i) $n (index $mins $i) (index $maxs $i)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
