package charts_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/internal/charts"
)

// requireCertificateShape checks a rendered cert-manager Certificate against
// the cert-manager.io/v1 API (the test bed has no cert-manager CRD): the
// required spec.secretName and spec.issuerRef.name, at least one subject
// name, usages and key settings from the API's enums, Go durations.
func requireCertificateShape(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	require.Equal(t, "cert-manager.io/v1", o.GetAPIVersion())
	require.Equal(t, "Certificate", o.GetKind())
	require.NotEmpty(t, str(o, "spec", "secretName"), "spec.secretName is required")
	require.NotEmpty(t, str(o, "spec", "issuerRef", "name"), "spec.issuerRef.name is required")
	dns, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "dnsNames")
	require.True(t, str(o, "spec", "commonName") != "" || len(dns) > 0, "a Certificate needs a commonName or dnsNames")
	require.LessOrEqual(t, len(str(o, "spec", "commonName")), 64, "X.509 limits a common name to 64 characters")
	usages, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "usages")
	for _, u := range usages {
		require.Contains(t, []string{"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
			"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth",
			"code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
			"microsoft sgc", "netscape sgc"}, u, "a cert-manager KeyUsage")
	}
	for _, f := range []string{"duration", "renewBefore"} {
		if d := str(o, "spec", f); d != "" {
			_, err := time.ParseDuration(d)
			require.NoError(t, err, "spec.%s is a Go duration", f)
		}
	}
	if a := str(o, "spec", "privateKey", "algorithm"); a != "" {
		require.Contains(t, []string{"RSA", "ECDSA", "Ed25519"}, a)
	}
	spec, _, _ := unstructured.NestedMap(o.Object, "spec")
	for k := range spec {
		require.Contains(t, []string{"secretName", "issuerRef", "commonName", "dnsNames", "duration", "renewBefore", "privateKey", "usages"}, k,
			"spec.%s: only fields of cert-manager.io/v1 Certificate the chart means to render", k)
	}
	issuer, _, _ := unstructured.NestedMap(o.Object, "spec", "issuerRef")
	for k := range issuer {
		require.Contains(t, []string{"name", "kind", "group"}, k)
	}
}

func TestConnectorCredentialsFromANamedSecret(t *testing.T) {
	set := editService(t, "ie-gateway", func(s map[string]any) {
		s["connector"] = map[string]any{"tlsCredentials": "gateway-tls", "useClientCert": true, "verifyHostname": true}
	})
	out := render(t, eastRelease, set)
	c := find(t, out, "Connector", "ie-gateway-east")
	require.Equal(t, "gateway-tls", str(c, "spec", "tlsCredentials"))
	require.Empty(t, out.Find("Certificate"), "a Secret the user names is only referenced: the chart renders no Certificate")
	require.Empty(t, out.Find("Secret"))
}

func TestConnectorCredentialsFromACertManagerCertificate(t *testing.T) {
	issuer := map[string]any{"name": "platform-ca", "kind": "ClusterIssuer"}
	set := editService(t, "prometheus", func(s map[string]any) {
		s["connector"] = map[string]any{"tlsCredentials": "prometheus-client", "useClientCert": true, "verifyHostname": true}
		s["certificate"] = map[string]any{"issuerRef": issuer, "duration": "2160h", "renewBefore": "360h",
			"privateKey": map[string]any{"algorithm": "ECDSA", "size": 256}}
		s["spokeOverrides"] = map[string]any{"west": map[string]any{
			"certificate": map[string]any{"issuerRef": map[string]any{"name": "west-ca"}, "dnsNames": []any{"prometheus.west.example"}},
		}}
	})
	crds := newCRDCheck(t)
	east := render(t, eastRelease, set)
	certs := east.Find("Certificate")
	require.Len(t, certs, 1, "east renders the Certificate of its Connector")
	cert := certs[0]
	requireCertificateShape(t, cert)
	require.Equal(t, "prometheus-client", cert.GetName())
	require.Equal(t, "service-interconnect", cert.GetNamespace())
	require.Equal(t, "prometheus-client", str(cert, "spec", "secretName"), "the Certificate fills the Secret the Connector names")
	require.Equal(t, map[string]any{"name": "platform-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}, nestedMap(cert, "spec", "issuerRef"))
	require.Equal(t, "prometheus-east", str(cert, "spec", "commonName"), "the common name defaults to the Connector's name")
	require.Equal(t, "2160h", str(cert, "spec", "duration"))
	require.Equal(t, "360h", str(cert, "spec", "renewBefore"))
	require.Equal(t, map[string]any{"algorithm": "ECDSA", "size": int64(256)}, nestedMap(cert, "spec", "privateKey"))
	usages, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "usages")
	require.Contains(t, usages, "client auth", "the router presents it to the backend as a client")
	require.Equal(t, "SkipDryRunOnMissingResource=true", cert.GetAnnotations()["argocd.argoproj.io/sync-options"], "Argo CD syncs before cert-manager's CRD is known")
	require.Equal(t, "5", cert.GetAnnotations()["argocd.argoproj.io/sync-wave"], "the Secret is asked for before the Connector (wave 6)")
	conn := find(t, east, "Connector", "prometheus-east")
	require.Equal(t, "prometheus-client", str(conn, "spec", "tlsCredentials"))
	crds.validate(t, conn)

	west := render(t, westRelease, set).Find("Certificate")
	require.Len(t, west, 1)
	requireCertificateShape(t, west[0])
	require.Equal(t, map[string]any{"name": "west-ca", "kind": "Issuer", "group": "cert-manager.io"}, nestedMap(west[0], "spec", "issuerRef"),
		"west's override replaces the issuer, whose kind defaults to Issuer")
	dns, _, _ := unstructured.NestedStringSlice(west[0].Object, "spec", "dnsNames")
	require.Equal(t, []string{"prometheus.west.example"}, dns)
	require.Equal(t, "2160h", str(west[0], "spec", "duration"), "what west does not override is the service's")

	require.Empty(t, render(t, hubRelease, set).Find("Certificate"), "a spoke-to-hub service's Connector, and its Certificate, are on the spokes")
	require.Empty(t, render(t, eastRelease, nil).Find("Certificate"), "no Certificate unless asked")

	t.Run("a hub-to-spoke service renders its Certificate on the hub", func(t *testing.T) {
		set := withService(t, map[string]any{"name": "registry", "direction": "hub-to-spoke", "port": 5000,
			"backend":     map[string]any{"host": "registry.infra.svc"},
			"connector":   map[string]any{"tlsCredentials": "registry-client", "useClientCert": true},
			"certificate": map[string]any{"issuerRef": map[string]any{"name": "hub-ca"}, "commonName": "vanlink-router"}})
		certs := render(t, hubRelease, set).Find("Certificate")
		require.Len(t, certs, 1, "one hub Connector, one Certificate, whatever the number of spokes")
		requireCertificateShape(t, certs[0])
		require.Equal(t, "vanlink-router", str(certs[0], "spec", "commonName"))
		require.Equal(t, "7", certs[0].GetAnnotations()["argocd.argoproj.io/sync-wave"], "before the hub Connector (wave 8)")
		require.Empty(t, render(t, eastRelease, set).Find("Certificate"))
	})
}

func nestedMap(o *unstructured.Unstructured, path ...string) map[string]any {
	m, _, _ := unstructured.NestedMap(o.Object, path...)
	return m
}

func TestBadCertificatesFailNamingTheField(t *testing.T) {
	gw := func(cert map[string]any, conn map[string]any) map[string]any {
		return editService(t, "ie-gateway", func(s map[string]any) {
			s["certificate"] = cert
			if conn != nil {
				s["connector"] = conn
			}
		})
	}
	ca := map[string]any{"name": "ca"}
	tests := map[string]struct {
		set  map[string]any
		want []string
	}{
		"a certificate without connector.tlsCredentials": {gw(map[string]any{"issuerRef": ca}, nil),
			[]string{"catalog.services[ie-gateway].certificate", "connector.tlsCredentials"}},
		"a certificate without an issuer": {gw(map[string]any{"duration": "1h"}, map[string]any{"tlsCredentials": "x"}),
			[]string{"/catalog/services/0/certificate", "issuerRef"}},
		"an issuer without a name": {gw(map[string]any{"issuerRef": map[string]any{"kind": "ClusterIssuer"}}, map[string]any{"tlsCredentials": "x"}),
			[]string{"/catalog/services/0/certificate/issuerRef", "name"}},
		"a duration that is not a Go duration": {gw(map[string]any{"issuerRef": ca, "duration": "90 days"}, map[string]any{"tlsCredentials": "x"}),
			[]string{"/catalog/services/0/certificate/duration"}},
		"an unknown key algorithm": {gw(map[string]any{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "DSA"}}, map[string]any{"tlsCredentials": "x"}),
			[]string{"/catalog/services/0/certificate/privateKey/algorithm"}},
		"an ECDSA key size cert-manager refuses": {gw(map[string]any{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "ECDSA", "size": 2048}}, map[string]any{"tlsCredentials": "x"}),
			[]string{"catalog.services[ie-gateway].certificate.privateKey.size", "2048", "256, 384 or 521"}},
		"an RSA key size cert-manager refuses (RSA is the default algorithm)": {gw(map[string]any{"issuerRef": ca, "privateKey": map[string]any{"size": 256}}, map[string]any{"tlsCredentials": "x"}),
			[]string{"catalog.services[ie-gateway].certificate.privateKey.size", "256", "2048 to 8192"}},
		"a spoke's key size cert-manager refuses": {func() map[string]any {
			set := gw(map[string]any{"issuerRef": ca}, map[string]any{"tlsCredentials": "x"})
			for _, s := range set["catalog"].(map[string]any)["services"].([]any) {
				if s.(map[string]any)["name"] == "ie-gateway" {
					s.(map[string]any)["spokeOverrides"] = map[string]any{"east": map[string]any{"certificate": map[string]any{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "RSA", "size": 16384}}}}
				}
			}
			return set
		}(), []string{"catalog.services[ie-gateway].spokeOverrides.east.certificate.privateKey.size", "16384"}},
		"an external issuer's kind without its group": {gw(map[string]any{"issuerRef": map[string]any{"name": "pca", "kind": "AWSPCAClusterIssuer"}}, map[string]any{"tlsCredentials": "x"}),
			[]string{"catalog.services[ie-gateway].certificate.issuerRef.kind", `"AWSPCAClusterIssuer"`, "issuerRef.group"}},
		"an unknown certificate key": {gw(map[string]any{"issuerRef": ca, "secretName": "y"}, map[string]any{"tlsCredentials": "x"}),
			[]string{"/catalog/services/0/certificate", "secretName"}},
		"a Secret name that is not a Kubernetes name": {gw(map[string]any{"issuerRef": ca}, map[string]any{"tlsCredentials": "Gateway_TLS"}),
			[]string{"/catalog/services/0/connector/tlsCredentials"}},
		"two services asking for the Certificate of one Secret": {func() map[string]any {
			set := gw(map[string]any{"issuerRef": ca}, map[string]any{"tlsCredentials": "shared-tls"})
			for _, s := range set["catalog"].(map[string]any)["services"].([]any) {
				if s.(map[string]any)["name"] == "prometheus" {
					s.(map[string]any)["connector"] = map[string]any{"tlsCredentials": "shared-tls"}
					s.(map[string]any)["certificate"] = map[string]any{"issuerRef": ca}
				}
			}
			return set
		}(), []string{"catalog.services[prometheus].certificate", `"shared-tls"`, "catalog.services[ie-gateway]"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := charts.Render(t.Context(), repo(t, eastRelease.chart), eastRelease.options(t, tc.set))
			require.Error(t, err, "rendering must fail")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w, "the error must name the offending value")
			}
		})
	}
	t.Run("key sizes and issuers cert-manager accepts render", func(t *testing.T) {
		for _, cert := range []map[string]any{
			{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "ECDSA", "size": 384}},
			{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "RSA", "size": 4096}},
			{"issuerRef": ca, "privateKey": map[string]any{"size": 2048}},
			{"issuerRef": ca, "privateKey": map[string]any{"algorithm": "Ed25519"}},
			{"issuerRef": map[string]any{"name": "ca", "kind": "ClusterIssuer"}},
			{"issuerRef": map[string]any{"name": "pca", "kind": "AWSPCAClusterIssuer", "group": "awspca.cert-manager.io"}},
		} {
			out := render(t, eastRelease, gw(cert, map[string]any{"tlsCredentials": "x"}))
			requireCertificateShape(t, find(t, out, "Certificate", "x"))
		}
	})
	t.Run("two services may share a Secret when one asks for its Certificate", func(t *testing.T) {
		set := gw(map[string]any{"issuerRef": ca}, map[string]any{"tlsCredentials": "shared-tls"})
		for _, s := range set["catalog"].(map[string]any)["services"].([]any) {
			if s.(map[string]any)["name"] == "prometheus" {
				s.(map[string]any)["connector"] = map[string]any{"tlsCredentials": "shared-tls"}
			}
		}
		out := render(t, eastRelease, set)
		require.Len(t, out.Find("Certificate"), 1)
		require.Equal(t, "shared-tls", str(find(t, out, "Connector", "prometheus-east"), "spec", "tlsCredentials"))
	})
}
