package charts_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vanlink/vanlink/internal/charts"
)

const observerName = "hub-service-interconnect-network-observer"

func observer(kv map[string]any) map[string]any {
	v := map[string]any{"enabled": true}
	for k, x := range kv {
		v[k] = x
	}
	return map[string]any{"networkObserver": v}
}

func observerObjects(out *charts.Rendered) []*unstructured.Unstructured {
	var got []*unstructured.Unstructured
	for _, o := range out.All() {
		if strings.HasPrefix(o.GetLabels()["app.kubernetes.io/component"], "network-observer") {
			got = append(got, o)
		}
	}
	return got
}

func convert[T any](t *testing.T, o *unstructured.Unstructured) T {
	t.Helper()
	var v T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &v))
	return v
}

func containers(pod corev1.PodSpec) map[string]corev1.Container {
	out := map[string]corev1.Container{}
	for _, c := range pod.Containers {
		out[c.Name] = c
	}
	return out
}

func volumes(pod corev1.PodSpec) map[string]corev1.Volume {
	out := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		out[v.Name] = v
	}
	return out
}

func TestNetworkObserverIsOffByDefault(t *testing.T) {
	for _, r := range []release{hubRelease, {"hub-defaults", charts.HubChart, nil}} {
		require.Empty(t, observerObjects(render(t, r, nil)), "%s: no network observer unless networkObserver.enabled", r.name)
	}
}

func TestNetworkObserverWithBasicAuth(t *testing.T) {
	out := render(t, hubRelease, observer(nil))
	dep := convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName))
	pod := dep.Spec.Template.Spec
	requireRestricted(t, pod)
	cs := containers(pod)
	require.Len(t, cs, 3)
	require.Equal(t, "quay.io/skupper/network-observer:2.2.1", cs["network-observer"].Image, "pinned to the Skupper release")
	require.Equal(t, "quay.io/prometheus/prometheus:v3.11.3", cs["prometheus"].Image)
	require.Equal(t, "mirror.gcr.io/nginxinc/nginx-unprivileged:1.31.0-alpine", cs["proxy"].Image)
	require.Contains(t, cs["network-observer"].Args, "-router-endpoint=amqps://skupper-router-local")
	require.Contains(t, cs["network-observer"].Args, "-prometheus-api=http://127.0.0.1:9090")
	require.Contains(t, cs["prometheus"].Args, "--web.listen-address=127.0.0.1:9090", "Prometheus answers only inside the pod")
	require.Equal(t, int32(8443), cs["proxy"].Ports[0].ContainerPort)
	vols := volumes(pod)
	require.Equal(t, observerName+"-client", vols["router-client"].Secret.SecretName)
	require.Equal(t, observerName+"-tls", vols["console-tls"].Secret.SecretName)
	require.Equal(t, observerName+"-auth", vols["console-users"].Secret.SecretName)
	require.False(t, *pod.AutomountServiceAccountToken, "the observer does not talk to the API server")

	nginx := find(t, out, "ConfigMap", observerName+"-nginx")
	conf := str(nginx, "data", "nginx.conf")
	require.Contains(t, conf, "auth_basic_user_file /etc/console-users/htpasswd;")
	require.Contains(t, conf, "listen 8443 ssl;")
	require.Contains(t, conf, "proxy_pass http://127.0.0.1:8080;")

	client := find(t, out, "Certificate", observerName+"-client")
	require.Equal(t, "skupper.io/v2alpha1", client.GetAPIVersion())
	require.Equal(t, map[string]any{"ca": "skupper-local-ca", "subject": "skupper-router-local", "hosts": []any{"skupper-router-local"}, "client": true}, specOf(client))
	server := find(t, out, "Certificate", observerName+"-tls")
	require.Equal(t, true, specOf(server)["server"])
	require.Contains(t, specOf(server)["hosts"], observerName+".service-interconnect.svc")

	svc := convert[corev1.Service](t, find(t, out, "Service", observerName))
	require.Equal(t, int32(443), svc.Spec.Ports[0].Port)
	require.Equal(t, "https", svc.Spec.Ports[0].TargetPort.StrVal)
	require.Equal(t, "network-observer", svc.Spec.Selector["app.kubernetes.io/component"])
	for k, v := range svc.Spec.Selector {
		require.Equal(t, v, dep.Spec.Template.Labels[k], "the Service selects the observer pod")
	}

	job := convert[batchv1.Job](t, find(t, out, "Job", observerName+"-setup"))
	require.Equal(t, []string{"ensure-secret", "-namespace=service-interconnect", "-format=htpasswd", observerName + "-auth"}, job.Spec.Template.Spec.Containers[0].Args)
	require.Equal(t, "quay.io/skupper/network-observer:2.2.1", job.Spec.Template.Spec.Containers[0].Image)
	requireRestricted(t, job.Spec.Template.Spec)
	require.Equal(t, "Sync", job.Annotations["argocd.argoproj.io/hook"], "Argo CD runs it during the sync (the Deployment cannot be Healthy before the Secret exists)")
	require.Equal(t, "post-install,post-upgrade", job.Annotations["helm.sh/hook"])
	role := convert[rbacv1.Role](t, find(t, out, "Role", observerName+"-setup"))
	require.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}}}, role.Rules, "the setup Job may only create Secrets")
}

func TestNetworkObserverAuthAndTLSOptions(t *testing.T) {
	t.Run("auth none: no users, no setup Job", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{"auth": map[string]any{"strategy": "none"}}))
		require.NotContains(t, str(find(t, out, "ConfigMap", observerName+"-nginx"), "data", "nginx.conf"), "auth_basic")
		require.NotContains(t, volumes(convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec), "console-users")
		for _, j := range out.Find("Job") {
			require.NotEqual(t, observerName+"-setup", j.GetName())
		}
	})
	t.Run("auth basic with users of your own Secret: no setup Job", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{"auth": map[string]any{"basicSecretName": "console-users"}}))
		require.Equal(t, "console-users", volumes(convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec)["console-users"].Secret.SecretName)
		for _, j := range out.Find("Job") {
			require.NotEqual(t, observerName+"-setup", j.GetName())
		}
	})
	t.Run("auth openshift behind a Route with OpenShift's serving certificate", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{
			"auth":  map[string]any{"strategy": "openshift"},
			"tls":   map[string]any{"source": "openshift"},
			"route": map[string]any{"enabled": true, "host": "observer.apps.example.com"},
		}))
		pod := convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec
		requireRestricted(t, pod)
		proxy := containers(pod)["proxy"]
		require.Equal(t, "quay.io/openshift/origin-oauth-proxy:4.22.0", proxy.Image)
		require.Contains(t, proxy.Args, "--provider=openshift")
		require.Contains(t, proxy.Args, "--openshift-service-account="+observerName)
		require.Equal(t, observerName, pod.ServiceAccountName)
		require.Equal(t, observerName+"-session", volumes(pod)["session"].Secret.SecretName)
		sa := find(t, out, "ServiceAccount", observerName)
		require.JSONEq(t, `{"kind":"OAuthRedirectReference","apiVersion":"v1","reference":{"kind":"Route","name":"`+observerName+`"}}`,
			sa.GetAnnotations()["serviceaccounts.openshift.io/oauth-redirectreference.primary"], "OAuth redirects to the observer's Route")
		svc := find(t, out, "Service", observerName)
		require.Equal(t, observerName+"-tls", svc.GetAnnotations()["service.beta.openshift.io/serving-cert-secret-name"])
		route := find(t, out, "Route", observerName)
		require.Equal(t, "reencrypt", str(route, "spec", "tls", "termination"))
		require.Equal(t, "observer.apps.example.com", str(route, "spec", "host"))
		require.Equal(t, observerName, str(route, "spec", "to", "name"))
		require.Len(t, out.Find("Certificate"), 1, "only the router client certificate: OpenShift issues the serving one")
		job := convert[batchv1.Job](t, find(t, out, "Job", observerName+"-setup"))
		require.Contains(t, job.Spec.Template.Spec.Containers[0].Args, "-format=oauth2-proxy-session-cookie")
		for _, cm := range out.Find("ConfigMap") {
			require.NotEqual(t, observerName+"-nginx", cm.GetName(), "no nginx with oauth-proxy")
		}
	})
	t.Run("a serving certificate from your own Secret", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{"tls": map[string]any{"source": "secret", "secretName": "console-cert"}}))
		require.Equal(t, "console-cert", volumes(convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec)["console-tls"].Secret.SecretName)
		require.Len(t, out.Find("Certificate"), 1, "only the router client certificate")
	})
	t.Run("global.imageRegistry and a digest", func(t *testing.T) {
		set := observer(map[string]any{"image": map[string]any{"digest": "sha256:" + strings.Repeat("a", 64)}})
		set["global"] = map[string]any{"imageRegistry": "mirror.example.com"}
		cs := containers(convert[appsv1.Deployment](t, find(t, render(t, hubRelease, set), "Deployment", observerName)).Spec.Template.Spec)
		require.Equal(t, "mirror.example.com/skupper/network-observer@sha256:"+strings.Repeat("a", 64), cs["network-observer"].Image)
		require.Equal(t, "mirror.example.com/prometheus/prometheus:v3.11.3", cs["prometheus"].Image)
		require.Equal(t, "mirror.example.com/nginxinc/nginx-unprivileged:1.31.0-alpine", cs["proxy"].Image)
	})
}

func TestNetworkObserverExposure(t *testing.T) {
	t.Run("Ingress", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{"ingress": map[string]any{"enabled": true, "className": "nginx", "host": "observer.example.com",
			"tlsSecretName": "observer-ingress-tls", "annotations": map[string]any{"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}}}))
		ing := convert[networkingv1.Ingress](t, find(t, out, "Ingress", observerName))
		require.Equal(t, "nginx", *ing.Spec.IngressClassName)
		require.Equal(t, "observer.example.com", ing.Spec.Rules[0].Host)
		require.Equal(t, observerName, ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name)
		require.Equal(t, "https", ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name)
		require.Equal(t, "observer-ingress-tls", ing.Spec.TLS[0].SecretName)
		require.Equal(t, "HTTPS", ing.Annotations["nginx.ingress.kubernetes.io/backend-protocol"])
	})
	t.Run("Gateway API", func(t *testing.T) {
		out := render(t, hubRelease, observer(map[string]any{"gateway": map[string]any{"enabled": true,
			"parentRefs": []any{map[string]any{"name": "public", "namespace": "gateways"}}, "hostnames": []any{"observer.example.com"},
			"caConfigMap": "observer-ca"}}))
		route := find(t, out, "HTTPRoute", observerName)
		require.Equal(t, "gateway.networking.k8s.io/v1", route.GetAPIVersion())
		parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
		require.Equal(t, []any{map[string]any{"name": "public", "namespace": "gateways"}}, parents)
		hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
		require.Equal(t, []string{"observer.example.com"}, hosts)
		rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
		require.Equal(t, []any{map[string]any{"name": observerName, "port": int64(443)}}, rules[0].(map[string]any)["backendRefs"])
		policy := find(t, out, "BackendTLSPolicy", observerName)
		require.Equal(t, observerName+".service-interconnect.svc", str(policy, "spec", "validation", "hostname"), "a name of the serving certificate")
		refs, _, _ := unstructured.NestedSlice(policy.Object, "spec", "validation", "caCertificateRefs")
		require.Equal(t, "observer-ca", refs[0].(map[string]any)["name"])
	})
	t.Run("all three at once, lint clean", func(t *testing.T) {
		set := observer(map[string]any{
			"tls":     map[string]any{"source": "openshift"},
			"route":   map[string]any{"enabled": true},
			"ingress": map[string]any{"enabled": true},
			"gateway": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "public"}}},
		})
		out := render(t, hubRelease, set)
		for _, k := range []string{"Route", "Ingress", "HTTPRoute"} {
			require.Len(t, out.Find(k), 1, k)
		}
		require.Empty(t, out.Find("BackendTLSPolicy"), "no policy without caConfigMap")
		require.NoError(t, charts.Lint(repo(t, charts.HubChart), hubRelease.options(t, set)))
	})
}

func TestBadNetworkObserverValuesFailNamingTheValue(t *testing.T) {
	tests := map[string]struct {
		set  map[string]any
		want []string
	}{
		"a Route in front of the Site CA's certificate": {observer(map[string]any{"route": map[string]any{"enabled": true}}),
			[]string{"networkObserver.route.enabled", "503", "tls.source"}},
		"OpenShift login without a Route": {observer(map[string]any{"auth": map[string]any{"strategy": "openshift"}, "tls": map[string]any{"source": "openshift"}}),
			[]string{"networkObserver.auth.strategy", "route.enabled"}},
		"a serving Secret that is not named": {observer(map[string]any{"tls": map[string]any{"source": "secret"}}),
			[]string{"networkObserver.tls.secretName"}},
		"a Gateway route without a Gateway": {observer(map[string]any{"gateway": map[string]any{"enabled": true}}),
			[]string{"networkObserver.gateway.parentRefs"}},
		"the image tag latest": {observer(map[string]any{"image": map[string]any{"tag": "latest"}}),
			[]string{"networkObserver.image.tag", "latest"}},
		"a sidecar image on latest": {observer(map[string]any{"prometheusImage": "quay.io/prometheus/prometheus:latest"}),
			[]string{"/networkObserver/prometheusImage"}},
		"an unknown auth strategy": {observer(map[string]any{"auth": map[string]any{"strategy": "ldap"}}),
			[]string{"/networkObserver/auth/strategy", "basic"}},
		"an unknown key": {observer(map[string]any{"ingres": map[string]any{"enabled": true}}),
			[]string{"/networkObserver", "ingres"}},
		"a serving Secret named while the Site's CA issues the certificate": {observer(map[string]any{"tls": map[string]any{"secretName": "console-tls"}}),
			[]string{"networkObserver.tls.secretName", `"console-tls"`, "tls.source"}},
		"a users Secret named for a console without basic auth": {observer(map[string]any{"auth": map[string]any{"strategy": "none", "basicSecretName": "users"}}),
			[]string{"networkObserver.auth.basicSecretName", `"users"`, "auth.strategy is none"}},
		"a cookie Secret named for basic auth": {observer(map[string]any{"auth": map[string]any{"cookieSecretName": "cookie"}}),
			[]string{"networkObserver.auth.cookieSecretName", `"cookie"`, "auth.strategy is basic"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := charts.Render(t.Context(), repo(t, hubRelease.chart), hubRelease.options(t, tc.set))
			require.Error(t, err, "rendering must fail")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w, "the error must name the offending value")
			}
		})
	}
}

func TestNotesNameThePerPodListenersAndTheObserver(t *testing.T) {
	notes := render(t, hubRelease, observer(nil)).Notes
	require.Contains(t, notes, "kafka-east-tst.service-interconnect.svc.cluster.local:9092  (from east)")
	require.Contains(t, notes, "and 3 per-pod Listeners: kafka-east-tst-dev-cluster-kafka-0.service-interconnect.svc.cluster.local:9096, ...")
	require.Contains(t, notes, "port-forward service/"+observerName+" 8443:443")
	require.Contains(t, notes, "get secret "+observerName+"-auth")
	require.NotContains(t, render(t, hubRelease, nil).Notes, "Network observer", "no observer, no word of it")
}

// imageUsers is the USER of each image the observer's pod runs, as its
// Dockerfile sets it: skupper/skupper Dockerfile.network-observer (USER
// 10000), nginxinc/docker-nginx-unprivileged (USER $UID, 101),
// prometheus/prometheus Dockerfile (USER nobody, a name).
var imageUsers = map[string]string{
	"quay.io/skupper/network-observer":          "10000",
	"mirror.gcr.io/nginxinc/nginx-unprivileged": "101",
	"quay.io/prometheus/prometheus":             "nobody",
}

// requireKubeletRuns fails when the kubelet would refuse to start a container:
// with runAsNonRoot and no runAsUser it reads the image's USER, and refuses a
// user name, which it cannot check is not root (kubelet
// verifyRunAsNonRoot: "image has non-numeric user ... cannot verify user is
// non-root").
func requireKubeletRuns(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	for _, c := range pod.Containers {
		nonRoot, uid := false, false
		for _, sc := range []*corev1.SecurityContext{{RunAsNonRoot: pod.SecurityContext.RunAsNonRoot, RunAsUser: pod.SecurityContext.RunAsUser}, c.SecurityContext} {
			if sc != nil && sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
			}
			if sc != nil && sc.RunAsUser != nil {
				uid = true
			}
		}
		repo, _, _ := strings.Cut(c.Image, ":")
		user, known := imageUsers[repo]
		require.True(t, known, "container %s: the USER of image %s is not known to this test", c.Name, c.Image)
		if nonRoot && !uid {
			_, err := strconv.Atoi(user)
			require.NoError(t, err, "container %s: runAsNonRoot without runAsUser, and image %s runs as user %q: the kubelet refuses to start it", c.Name, c.Image, user)
		}
	}
}

func TestNetworkObserverContainersStartOnKubernetesAndOpenShift(t *testing.T) {
	t.Run("Kubernetes: Prometheus runs as nobody's uid", func(t *testing.T) {
		for _, auth := range []string{"basic", "none"} {
			out := render(t, hubRelease, observer(map[string]any{"auth": map[string]any{"strategy": auth}, "ingress": map[string]any{"enabled": true}}))
			pod := convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec
			requireRestricted(t, pod)
			requireKubeletRuns(t, pod)
			require.Equal(t, int64(65534), *containers(pod)["prometheus"].SecurityContext.RunAsUser)
		}
	})
	t.Run("OpenShift: the SCC assigns every uid", func(t *testing.T) {
		o := hubRelease.options(t, observer(nil))
		o.APIVersions = []string{"route.openshift.io/v1"}
		out, err := charts.Render(t.Context(), repo(t, hubRelease.chart), o)
		require.NoError(t, err)
		routed := render(t, hubRelease, observer(map[string]any{"route": map[string]any{"enabled": true}, "tls": map[string]any{"source": "openshift"}}))
		for _, out := range []*charts.Rendered{out, routed} {
			pod := convert[appsv1.Deployment](t, find(t, out, "Deployment", observerName)).Spec.Template.Spec
			requireRestricted(t, pod)
			for _, c := range pod.Containers {
				require.Nil(t, c.SecurityContext.RunAsUser, "container %s: restricted-v2 refuses a uid outside the namespace's range", c.Name)
			}
		}
	})
}
