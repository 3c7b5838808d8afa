{{- /* GENERATED from charts/_shared/_vanlink.tpl by `make docs`: edit that file, not this copy. */ -}}
{{- /*
_vanlink.tpl is the template code both charts share: it resolves the service
catalog into the Listener/Connector pairs both charts render, and renders the
optional Skupper operator Subscription. This file in charts/_shared is its one
source; `make docs` copies it into templates/ of charts/service-interconnect
and charts/spoke-interconnect, and a test fails when a copy differs. (A Helm
library chart would need `helm dependency build` before `helm install
charts/<chart>` from a checkout; a copy committed in each chart does not.)
*/ -}}

{{- /*
vanlink.dns1123 fails unless .value is a DNS-1123 label that starts with a
letter (it becomes a Service name) and is at most 63 characters long.
Call with (dict "value" $name "what" "catalog.services[kafka].listenerName").
*/ -}}
{{- define "vanlink.dns1123" -}}
{{- if gt (len .value) 63 -}}
{{- fail (printf "%s: %q is %d characters long; a Kubernetes name must be at most 63" .what .value (len .value)) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .value) -}}
{{- fail (printf "%s: %q is not a DNS-1123 label (lower-case letters, digits and '-', starting with a letter and ending with a letter or digit)" .what .value) -}}
{{- end -}}
{{- end -}}

{{- /*
vanlink.catalog.resolve validates .Values.catalog and returns, as YAML, the list
of every routing-key pair of the network under the key "pairs". Each pair:
  service    catalog service name
  direction  spoke-to-hub | hub-to-spoke
  spoke      the spoke that offers (spoke-to-hub) or uses (hub-to-spoke) it
  name       Listener name = Service host on the listening side
  routingKey shared by the Listener and its Connector
  port       Listener port (the service's, or spokeOverrides.<spoke>.port)
  backend    {host|selector, port}: where the Connector sends traffic
  listener   the service's listener fields (tlsCredentials, type, observer,
             exposePodsByName, settings), with the spoke's override merged in
  connector  the service's connector fields (tlsCredentials, useClientCert,
             verifyHostname, type, includeNotReadyPods, exposePodsByName,
             settings), with the spoke's override merged in
  pods       per-pod Listeners [{name, routingKey, port}] (podListeners)
  certificate the cert-manager Certificate of connector.tlsCredentials, if asked
A hub-to-spoke service has one Connector on the hub and one pair per spoke
that all share its routing key.
*/ -}}
{{- define "vanlink.catalog.resolve" -}}
{{- $catalog := .Values.catalog | default dict -}}
{{- $spokes := $catalog.spokes | default list -}}
{{- $declared := dict -}}
{{- range $i, $s := $spokes -}}
{{- include "vanlink.dns1123" (dict "value" $s "what" (printf "catalog.spokes[%d]" $i)) -}}
{{- if hasKey $declared $s -}}
{{- fail (printf "catalog.spokes: spoke %q is declared twice" $s) -}}
{{- end -}}
{{- $_ := set $declared $s true -}}
{{- end -}}
{{- $pairs := list -}}
{{- $services := dict -}}
{{- $keys := dict -}}
{{- $names := dict -}}
{{- $certs := dict -}}
{{- range $i, $svc := $catalog.services | default list -}}
{{- $what := printf "catalog.services[%s]" $svc.name -}}
{{- include "vanlink.dns1123" (dict "value" $svc.name "what" (printf "catalog.services[%d].name" $i)) -}}
{{- if hasKey $services $svc.name -}}
{{- fail (printf "%s: service name %q is used twice in catalog.services" $what $svc.name) -}}
{{- end -}}
{{- $_ := set $services $svc.name true -}}
{{- if ne (toString $svc.enabled) "false" -}}
{{- $svcSpokes := $svc.spokes | default $spokes -}}
{{- range $s := $svcSpokes -}}
{{- if not (hasKey $declared $s) -}}
{{- fail (printf "%s.spokes: spoke %q is not declared in catalog.spokes %v" $what $s $spokes) -}}
{{- end -}}
{{- end -}}
{{- $overrides := $svc.spokeOverrides | default dict -}}
{{- range $s, $o := $overrides -}}
{{- if not (has $s $svcSpokes) -}}
{{- fail (printf "%s.spokeOverrides.%s: spoke %q does not use this service (its spokes: %v)" $what $s $s $svcSpokes) -}}
{{- end -}}
{{- if eq $svc.direction "hub-to-spoke" -}}
{{- range $k := list "backend" "connector" "certificate" -}}
{{- if hasKey ($o | default dict) $k -}}
{{- fail (printf "%s.spokeOverrides.%s.%s: a hub-to-spoke service has one Connector on the hub for every spoke; set %s on the service itself" $what $s $k $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $defaultName := "{service}-{spoke}" -}}
{{- if eq $svc.direction "hub-to-spoke" -}}{{- $defaultName = "{service}" -}}{{- end -}}
{{- $nameTmpl := $svc.listenerName | default $defaultName -}}
{{- $keyTmpl := $svc.routingKey | default $nameTmpl -}}
{{- if and (eq $svc.direction "spoke-to-hub") (gt (len $svcSpokes) 1) (not (contains "{spoke}" $nameTmpl)) -}}
{{- fail (printf "%s.listenerName: %q must contain {spoke}, or the hub Listeners of %d spokes would share one name" $what $nameTmpl (len $svcSpokes)) -}}
{{- end -}}
{{- range $s := $svcSpokes -}}
{{- $o := get $overrides $s | default dict -}}
{{- /* where a value of this spoke comes from: the override when it sets it */ -}}
{{- $ow := printf "%s.spokeOverrides.%s" $what $s -}}
{{- $backend := deepCopy ($svc.backend | default dict) -}}
{{- $bw := printf "%s.backend" $what -}}
{{- with $o.backend -}}
{{- $bw = printf "%s.backend" $ow -}}
{{- if or (hasKey . "host") (hasKey . "selector") -}}
{{- $backend = omit $backend "host" "selector" -}}
{{- end -}}
{{- range $k, $v := . -}}{{- $_ := set $backend $k $v -}}{{- end -}}
{{- end -}}
{{- if and $backend.host $backend.selector -}}
{{- fail (printf "%s: set either host or selector, not both (host %q, selector %q)" $bw $backend.host $backend.selector) -}}
{{- end -}}
{{- if not (or $backend.host $backend.selector) -}}
{{- fail (printf "%s: set host or selector to tell the Connector where the service runs" $bw) -}}
{{- end -}}
{{- if and $backend.host (regexMatch "://|/|:[0-9]*$|^\\[" (toString $backend.host)) -}}
{{- fail (printf "%s.host: %q is written as a URL or with a port; give the host name only (e.g. kafka-bootstrap.kafka.svc), and the port as backend.port" $bw $backend.host) -}}
{{- end -}}
{{- /* spokeOverrides.<spoke>.port replaces port for this spoke: its Listener,
the default of its per-pod Listeners and, spoke-to-hub, of its Connector's
backend port (a hub-to-spoke service's one hub Connector keeps the service's). */ -}}
{{- $port := $svc.port -}}
{{- if hasKey $o "port" -}}{{- $port = $o.port -}}{{- end -}}
{{- $backendOut := dict "port" (int ($backend.port | default (ternary $port $svc.port (eq $svc.direction "spoke-to-hub")))) -}}
{{- if $backend.host -}}{{- $_ := set $backendOut "host" $backend.host -}}{{- end -}}
{{- if $backend.selector -}}{{- $_ := set $backendOut "selector" $backend.selector -}}{{- end -}}
{{- $fields := dict -}}
{{- range $side := list "listener" "connector" -}}
{{- $f := deepCopy (get $svc $side | default dict) -}}
{{- range $k, $v := get $o $side | default dict -}}
{{- if and (eq $k "settings") (kindIs "map" (get $f "settings")) -}}
{{- $_ := set $f "settings" (merge (deepCopy $v) (get $f "settings")) -}}
{{- else -}}
{{- $_ := set $f $k $v -}}
{{- end -}}
{{- end -}}
{{- $_ := set $fields $side $f -}}
{{- end -}}
{{- $conn := $fields.connector -}}
{{- $cw := printf "%s.connector" (ternary $ow $what (hasKey $o "connector")) -}}
{{- if $backend.host -}}
{{- range $k := list "exposePodsByName" "includeNotReadyPods" -}}
{{- if get $conn $k -}}
{{- fail (printf "%s.%s: needs backend.selector; Skupper applies it to the pods a selector picks, and spoke %s's Connector goes to %s.host %q, which has none" $cw $k $s $bw $backend.host) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $k := list "useClientCert" "verifyHostname" -}}
{{- if and (get $conn $k) (not $conn.tlsCredentials) -}}
{{- fail (printf "%s.%s: needs connector.tlsCredentials (the Secret with the backend's CA); Skupper ignores it without TLS" $cw $k) -}}
{{- end -}}
{{- end -}}
{{- $name := $nameTmpl | replace "{service}" $svc.name | replace "{spoke}" $s -}}
{{- $key := $keyTmpl | replace "{service}" $svc.name | replace "{spoke}" $s -}}
{{- include "vanlink.dns1123" (dict "value" $name "what" (printf "%s.listenerName (for spoke %s)" $what $s)) -}}
{{- $side := "hub" -}}
{{- if eq $svc.direction "hub-to-spoke" -}}{{- $side = printf "spoke %s" $s -}}{{- end -}}
{{- $nameKey := printf "%s/%s" $side $name -}}
{{- if hasKey $names $nameKey -}}
{{- fail (printf "%s.listenerName: Listener %q on the %s is already rendered for %s; Listener names must be unique" $what $name $side (get $names $nameKey)) -}}
{{- end -}}
{{- $_ := set $names $nameKey (printf "catalog.services[%s]" $svc.name) -}}
{{- if eq $svc.direction "spoke-to-hub" -}}
{{- if hasKey $keys $key -}}
{{- fail (printf "%s: routing key %q (spoke %s) is already used by %s; routing keys must be unique" $what $key $s (get $keys $key)) -}}
{{- end -}}
{{- $_ := set $keys $key (printf "catalog.services[%s]" $svc.name) -}}
{{- end -}}
{{- /* Per-pod Listeners: a Connector with exposePodsByName also serves each
selected pod under the routing key <key>.<pod name> (upstream
internal/site/connector.go UpdateBridgeConfigForConnectorToPod), so a Listener
with that routing key reaches that one pod. */ -}}
{{- $pl := deepCopy ($svc.podListeners | default dict) -}}
{{- $pw := printf "%s.podListeners" $what -}}
{{- with $o.podListeners -}}
{{- $pw = printf "%s.podListeners" $ow -}}
{{- range $k, $v := . -}}{{- $_ := set $pl $k $v -}}{{- end -}}
{{- end -}}
{{- $pods := list -}}
{{- if $pl.pods -}}
{{- if not $conn.exposePodsByName -}}
{{- fail (printf "%s: needs connector.exposePodsByName: true (and backend.selector), or the Connector offers no per-pod routing key %s.<pod> to listen to (spoke %s: %s.exposePodsByName is not true)" $pw $key $s $cw) -}}
{{- end -}}
{{- $podTmpl := $pl.name | default "{listener}-{pod}" -}}
{{- range $pod := $pl.pods -}}
{{- $podName := $podTmpl | replace "{service}" $svc.name | replace "{spoke}" $s | replace "{listener}" $name | replace "{pod}" $pod -}}
{{- include "vanlink.dns1123" (dict "value" $podName "what" (printf "%s.name (for spoke %s, pod %s)" $pw $s $pod)) -}}
{{- $podKey := printf "%s/%s" $side $podName -}}
{{- if hasKey $names $podKey -}}
{{- fail (printf "%s.name: Listener %q on the %s is already rendered for %s; Listener names must be unique" $pw $podName $side (get $names $podKey)) -}}
{{- end -}}
{{- $_ := set $names $podKey (printf "catalog.services[%s]" $svc.name) -}}
{{- $pods = append $pods (dict "name" $podName "pod" $pod "routingKey" (printf "%s.%s" $key $pod) "port" (int ($pl.port | default $port))) -}}
{{- end -}}
{{- end -}}
{{- $pair := dict "service" $svc.name "direction" $svc.direction "spoke" $s "name" $name "routingKey" $key "port" (int $port) "backend" $backendOut "listener" $fields.listener "connector" $conn "pods" $pods -}}
{{- $cert := deepCopy ($svc.certificate | default dict) -}}
{{- $certw := printf "%s.certificate" $what -}}
{{- with $o.certificate -}}
{{- $certw = printf "%s.certificate" $ow -}}
{{- range $k, $v := . -}}{{- $_ := set $cert $k $v -}}{{- end -}}
{{- end -}}
{{- if $cert -}}
{{- /* What cert-manager's webhook refuses (cert-manager
internal/apis/certmanager/validation/certificate.go ValidateCertificateSpec,
validateIssuerRef), refused here naming the catalog value instead of at apply. */ -}}
{{- $pk := $cert.privateKey | default dict -}}
{{- if and $pk.size (has ($pk.algorithm | default "RSA") (list "RSA" "")) (or (lt (int $pk.size) 2048) (gt (int $pk.size) 8192)) -}}
{{- fail (printf "%s.privateKey.size: %v is not an RSA key size cert-manager accepts (2048 to 8192)" $certw $pk.size) -}}
{{- end -}}
{{- if and $pk.size (eq $pk.algorithm "ECDSA") (not (has (int $pk.size) (list 256 384 521))) -}}
{{- fail (printf "%s.privateKey.size: %v is not an ECDSA key size cert-manager accepts (256, 384 or 521)" $certw $pk.size) -}}
{{- end -}}
{{- $issuer := $cert.issuerRef | default dict -}}
{{- if and $issuer.kind (eq ($issuer.group | default "cert-manager.io") "cert-manager.io") (not (has $issuer.kind (list "Issuer" "ClusterIssuer"))) -}}
{{- fail (printf "%s.issuerRef.kind: %q is not a cert-manager.io issuer (Issuer or ClusterIssuer); an external issuer's kind needs its issuerRef.group" $certw $issuer.kind) -}}
{{- end -}}
{{- if not $conn.tlsCredentials -}}
{{- fail (printf "%s: needs connector.tlsCredentials, the name of the Secret the Certificate fills and the Connector reads" $certw) -}}
{{- end -}}
{{- $certSide := ternary (printf "spoke %s" $s) "hub" (eq $svc.direction "spoke-to-hub") -}}
{{- $certKey := printf "%s/%s" $certSide $conn.tlsCredentials -}}
{{- $owner := printf "catalog.services[%s]" $svc.name -}}
{{- if and (hasKey $certs $certKey) (ne (get $certs $certKey) $owner) -}}
{{- fail (printf "%s: the Certificate of Secret %q on the %s is already rendered for %s; ask for it on one service and name the Secret in connector.tlsCredentials of the others" $certw $conn.tlsCredentials $certSide (get $certs $certKey)) -}}
{{- end -}}
{{- $_ := set $certs $certKey $owner -}}
{{- $_ := set $pair "certificate" $cert -}}
{{- end -}}
{{- $pairs = append $pairs $pair -}}
{{- end -}}
{{- if eq $svc.direction "hub-to-spoke" -}}
{{- $key := $keyTmpl | replace "{service}" $svc.name -}}
{{- if contains "{spoke}" $key -}}
{{- fail (printf "%s.routingKey: %q must not contain {spoke}: one hub Connector serves every spoke" $what $keyTmpl) -}}
{{- end -}}
{{- if hasKey $keys $key -}}
{{- fail (printf "%s: routing key %q is already used by %s; routing keys must be unique" $what $key (get $keys $key)) -}}
{{- end -}}
{{- $_ := set $keys $key (printf "catalog.services[%s]" $svc.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "pairs" $pairs) -}}
{{- end -}}

{{- /*
vanlink.listener.spec returns the spec of a Listener as YAML: routingKey,
host and port, then every listener field the catalog sets (tlsCredentials,
type, observer, exposePodsByName, settings), under Skupper's own names. Call
with (dict "name" $host "routingKey" $key "port" $port "fields" $pair.listener).
*/ -}}
{{- define "vanlink.listener.spec" -}}
{{- $spec := dict "routingKey" .routingKey "host" .name "port" (int .port) -}}
{{- range $k, $v := .fields | default dict -}}{{- $_ := set $spec $k $v -}}{{- end -}}
{{- toYaml $spec -}}
{{- end -}}

{{- /*
vanlink.connector.spec returns the spec of a Connector as YAML: routingKey,
port and host or selector from the pair's backend, then every connector field
the catalog sets (tlsCredentials, useClientCert, verifyHostname, type,
includeNotReadyPods, exposePodsByName, settings). Call with a resolved pair.
*/ -}}
{{- define "vanlink.connector.spec" -}}
{{- $spec := dict "routingKey" .routingKey "port" (int .backend.port) -}}
{{- if .backend.host -}}
{{- $_ := set $spec "host" .backend.host -}}
{{- else -}}
{{- $_ := set $spec "selector" .backend.selector -}}
{{- end -}}
{{- range $k, $v := .connector | default dict -}}{{- $_ := set $spec $k $v -}}{{- end -}}
{{- toYaml $spec -}}
{{- end -}}

{{- /*
vanlink.certificate renders the cert-manager Certificate that fills the
Secret a Connector names in tlsCredentials, when the catalog asks for one
(certificate). Skupper reads ca.crt of that Secret to trust the backend, and
tls.crt and tls.key when useClientCert is set (upstream internal/qdr/qdr.go
ConfigureSslProfile, internal/kube/secrets/sync.go writeSslProfile); a
cert-manager Certificate's Secret carries all three. Call with
(dict "pair" $p "name" $connectorName "namespace" $ns "labels" $labels "wave" $waveAnnotation).
*/ -}}
{{- define "vanlink.certificate" -}}
{{- $c := .pair.certificate -}}
{{- $secret := .pair.connector.tlsCredentials -}}
{{- $issuer := $c.issuerRef | default dict -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ $secret }}
  namespace: {{ .namespace }}
  labels:
    {{- .labels | nindent 4 }}
    vanlink.io/service: {{ .pair.service }}
  annotations:
    {{- .wave | nindent 4 }}
    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
spec:
  secretName: {{ $secret }}
  issuerRef:
    name: {{ $issuer.name }}
    kind: {{ $issuer.kind | default "Issuer" }}
    group: {{ $issuer.group | default "cert-manager.io" }}
  commonName: {{ $c.commonName | default .name }}
  {{- with $c.dnsNames }}
  dnsNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.duration }}
  duration: {{ . }}
  {{- end }}
  {{- with $c.renewBefore }}
  renewBefore: {{ . }}
  {{- end }}
  {{- with $c.privateKey }}
  privateKey:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  usages:
    - digital signature
    - key encipherment
    - client auth
{{- end -}}

{{- /*
vanlink.operator.subscription renders the OLM Subscription of the Skupper
operator when .Values.operator.subscription.enabled. The router and kube-adaptor
images are deployed images, set through the operator's environment.
Call with (dict "root" $ "labels" (include "<chart>.labels" $)).
*/ -}}
{{- define "vanlink.operator.subscription" -}}
{{- $sub := .root.Values.operator.subscription -}}
{{- $reg := (.root.Values.global | default dict).imageRegistry -}}
{{- if $sub.enabled }}
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: {{ $sub.name }}
  namespace: {{ $sub.namespace }}
  labels:
    {{- .labels | nindent 4 }}
  annotations:
    argocd.argoproj.io/sync-wave: "1"
spec:
  name: {{ $sub.package }}
  channel: {{ $sub.channel }}
  source: {{ $sub.source }}
  sourceNamespace: {{ $sub.sourceNamespace }}
  installPlanApproval: {{ $sub.installPlanApproval }}
  {{- with $sub.startingCSV }}
  startingCSV: {{ . }}
  {{- end }}
  {{- if or $sub.routerImage $sub.kubeAdaptorImage }}
  config:
    env:
      {{- with $sub.routerImage }}
      - name: SKUPPER_ROUTER_IMAGE
        value: {{ include "vanlink.imageRef" (dict "image" . "registry" $reg) | quote }}
      {{- end }}
      {{- with $sub.kubeAdaptorImage }}
      - name: SKUPPER_KUBE_ADAPTOR_IMAGE
        value: {{ include "vanlink.imageRef" (dict "image" . "registry" $reg) | quote }}
      {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{- /*
vanlink.labels.validate fails unless every key of .labels is a Kubernetes
label key (an optional DNS-subdomain prefix and '/', then a name of at most 63
characters) and every value a label value. Call with
(dict "labels" .Values.commonLabels "what" "commonLabels").
*/ -}}
{{- define "vanlink.labels.validate" -}}
{{- $what := .what -}}
{{- range $k, $v := .labels | default dict -}}
{{- $parts := splitList "/" $k -}}
{{- $name := last $parts -}}
{{- $prefix := "" -}}
{{- if eq (len $parts) 2 -}}{{- $prefix = first $parts -}}{{- end -}}
{{- if or (gt (len $parts) 2) (gt (len $prefix) 253) (and (eq (len $parts) 2) (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $prefix))) (gt (len $name) 63) (not (regexMatch "^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$" $name)) -}}
{{- fail (printf "%s: %q is not a label key (an optional DNS-subdomain prefix and '/', then at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)" $what $k) -}}
{{- end -}}
{{- $s := toString $v -}}
{{- if kindIs "invalid" $v -}}{{- $s = "" -}}{{- end -}}
{{- if or (gt (len $s) 63) (not (regexMatch "^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$" $s)) -}}
{{- fail (printf "%s.%s: %q is not a label value (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)" $what $k $s) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /*
vanlink.selector.validate fails unless .value is a Kubernetes label selector
(what kubectl -l takes: key, !key, key=value, key==value, key!=value,
key in (a,b), key notin (a,b), key>1, key<1, joined by commas). Empty or null is valid.
Call with (dict "value" .Values.sync.clusterSelector "what" "sync.clusterSelector").
*/ -}}
{{- define "vanlink.selector.validate" -}}
{{- $key := "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?" -}}
{{- $val := "([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?" -}}
{{- $req := printf "\\s*(!\\s*%s|%s\\s*(==?|!=)\\s*%s|%s\\s*[<>]\\s*-?[0-9]+|%s\\s+(in|notin)\\s*\\(\\s*%s(\\s*,\\s*%s)*\\s*\\)|%s)\\s*" $key $key $val $key $key $val $val $key -}}
{{- $value := .value | default "" -}}
{{- if not (kindIs "string" $value) -}}
{{- fail (printf "%s must be a label selector string" .what) -}}
{{- end -}}
{{- if and (trim $value) (not (regexMatch (printf "^%s(,%s)*$" $req $req) $value)) -}}
{{- fail (printf "%s: %q is not a label selector (key, !key, key=value, key!=value, key in (a,b), key notin (a,b), joined by commas)" .what $value) -}}
{{- end -}}
{{- end -}}

{{- /*
vanlink.imageRef returns .image with its registry replaced by .registry
(global.imageRegistry) when that is set: the first path element of .image is
its registry when it holds a '.' or ':' or is localhost; an image without one
gets .registry in front. Call with (dict "image" "ghcr.io/vanlink/vanlink" "registry" "mirror.example.com").
*/ -}}
{{- define "vanlink.imageRef" -}}
{{- $image := .image -}}
{{- with .registry -}}
{{- if not (kindIs "string" .) -}}
{{- fail (printf "global.imageRegistry: %v must be a string (a registry host, e.g. mirror.example.com:5000)" .) -}}
{{- end -}}
{{- $reg := trimSuffix "/" . -}}
{{- $parts := splitList "/" $image -}}
{{- $head := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $head) (contains ":" $head) (eq $head "localhost")) -}}
{{- $image = printf "%s/%s" $reg (join "/" (rest $parts)) -}}
{{- else -}}
{{- $image = printf "%s/%s" $reg $image -}}
{{- end -}}
{{- end -}}
{{- $image -}}
{{- end -}}

{{- /*
vanlink.global.validate checks the keys of global that vanlink reads
(imageRegistry, imagePullSecrets); anything else under global belongs to
other charts (an umbrella chart passes global to every dependency) and is
left alone. Call with .Values.global.
*/ -}}
{{- define "vanlink.global.validate" -}}
{{- $g := . | default dict -}}
{{- if not (kindIs "map" $g) -}}
{{- fail "global: must be a map (Helm passes it to every chart of an umbrella)" -}}
{{- end -}}
{{- if and (hasKey $g "imageRegistry") (not (kindIs "invalid" $g.imageRegistry)) (not (kindIs "string" $g.imageRegistry)) -}}
{{- fail (printf "global.imageRegistry: %v must be a string (a registry host, e.g. mirror.example.com:5000)" $g.imageRegistry) -}}
{{- end -}}
{{- if and (hasKey $g "imagePullSecrets") (not (kindIs "invalid" $g.imagePullSecrets)) (not (kindIs "slice" $g.imagePullSecrets)) -}}
{{- fail "global.imagePullSecrets: must be a list of Secret names or {name: ...} objects" -}}
{{- end -}}
{{- end -}}

{{- /*
vanlink.pullSecrets returns, as a YAML list of {name: ...}, the pull
secrets of .local followed by those of .global (global.imagePullSecrets),
each given as a name or as {name: ...}, without duplicates.
*/ -}}
{{- define "vanlink.pullSecrets" -}}
{{- $out := list -}}
{{- $seen := dict -}}
{{- range $s := concat (.local | default list) (.global | default list) -}}
{{- $n := ternary $s (get (kindIs "map" $s | ternary $s dict) "name") (kindIs "string" $s) -}}
{{- if and $n (not (hasKey $seen $n)) -}}
{{- $_ := set $seen $n true -}}
{{- $out = append $out (dict "name" $n) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
