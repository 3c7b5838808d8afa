package charts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
)

// crdCheck validates rendered Skupper objects against the project's
// skupper.io/v2alpha1 CRDs (e2e/framework/testdata/crds, written from the
// upstream API types), as the API server would, and also refuses any spec
// field the CRD does not know (the API server would silently prune it).
type crdCheck map[string]*apiextensionsv1.CustomResourceDefinition

func newCRDCheck(t *testing.T) crdCheck {
	t.Helper()
	crds, err := framework.SkupperCRDs()
	require.NoError(t, err)
	out := crdCheck{}
	for _, c := range crds {
		out[c.Spec.Names.Kind] = c
	}
	return out
}

func (c crdCheck) validate(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	crd, ok := c[o.GetKind()]
	require.True(t, ok, "no project CRD for kind %s", o.GetKind())
	v1Schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	// The OpenAPI v3 validation the API server runs on a custom resource
	// (CEL rules aside), on the CRD's schema read as an OpenAPI schema.
	data, err := json.Marshal(v1Schema)
	require.NoError(t, err)
	var schema spec.Schema
	require.NoError(t, json.Unmarshal(data, &schema))
	require.NoError(t, validate.AgainstSchema(&schema, o.Object, strfmt.Default), "%s %s must pass the %s CRD schema", o.GetKind(), o.GetName(), crd.Name)
	got, _, _ := unstructured.NestedMap(o.Object, "spec")
	known := v1Schema.Properties["spec"].Properties
	for k := range got {
		_, ok := known[k]
		require.True(t, ok, "%s %s: spec.%s is not a field of skupper.io/v2alpha1 %s", o.GetKind(), o.GetName(), k, o.GetKind())
	}
}

// find returns the rendered object of a kind and name, failing when absent.
func find(t *testing.T, out *charts.Rendered, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range out.Find(kind) {
		if o.GetName() == name {
			return o
		}
	}
	names := []string{}
	for _, o := range out.Find(kind) {
		names = append(names, o.GetName())
	}
	require.Failf(t, "object not rendered", "no %s %q among %v", kind, name, names)
	return nil
}

func specOf(o *unstructured.Unstructured) map[string]any {
	s, _, _ := unstructured.NestedMap(o.Object, "spec")
	return s
}

// The fields of skupper.io/v2alpha1 Listener and Connector (upstream
// pkg/apis/skupper/v2alpha1/types.go ListenerSpec, ConnectorSpec) that the
// catalog sets under their own names in listener: and connector:, each with
// a value that differs from Skupper's default. routingKey, host, port and
// selector come from the service's routingKey, listenerName, port and backend.
var (
	listenerFields = map[string]any{
		"tlsCredentials":   "gateway-server-tls",
		"type":             "tcp",
		"observer":         "http2",
		"exposePodsByName": true,
		"settings":         map[string]any{"key": "value"},
	}
	connectorFields = map[string]any{
		"tlsCredentials":      "gateway-backend-ca",
		"useClientCert":       true,
		"verifyHostname":      true,
		"type":                "tcp",
		"includeNotReadyPods": true,
		"exposePodsByName":    true,
		"settings":            map[string]any{"key": "value"},
	}
)

// selectorGateway turns the ie-gateway backend into a selector, which
// includeNotReadyPods and exposePodsByName need.
func selectorGateway(s map[string]any) { s["backend"] = map[string]any{"selector": "app=gateway"} }

func TestEveryListenerAndConnectorFieldIsSetPerService(t *testing.T) {
	crds := newCRDCheck(t)
	for field, value := range listenerFields {
		t.Run("listener."+field+" reaches every hub Listener of the service", func(t *testing.T) {
			set := editService(t, "ie-gateway", func(s map[string]any) { s["listener"] = map[string]any{field: value} })
			hub := render(t, hubRelease, set)
			for _, name := range []string{"ie-gateway-east", "ie-gateway-west"} {
				l := find(t, hub, "Listener", name)
				require.Equal(t, value, specOf(l)[field], "Listener %s spec.%s", name, field)
				crds.validate(t, l)
			}
			require.NotContains(t, specOf(find(t, hub, "Listener", "prometheus-east")), field, "another service's Listener is untouched")
			require.NotContains(t, specOf(find(t, render(t, eastRelease, set), "Connector", "ie-gateway-east")), field, "a listener field never reaches a Connector")
		})
	}
	for field, value := range connectorFields {
		t.Run("connector."+field+" reaches the Connector on every spoke", func(t *testing.T) {
			set := editService(t, "ie-gateway", func(s map[string]any) {
				selectorGateway(s)
				c := map[string]any{field: value}
				if field == "useClientCert" || field == "verifyHostname" {
					c["tlsCredentials"] = "gateway-backend-ca"
				}
				s["connector"] = c
			})
			for _, r := range []release{eastRelease, westRelease} {
				c := find(t, render(t, r, set), "Connector", "ie-gateway-"+r.name)
				require.Equal(t, value, specOf(c)[field], "Connector on %s spec.%s", r.name, field)
				require.Equal(t, "app=gateway", specOf(c)["selector"])
				crds.validate(t, c)
			}
			hub := render(t, hubRelease, set)
			for _, name := range []string{"ie-gateway-east", "ie-gateway-west"} {
				require.NotContains(t, specOf(find(t, hub, "Listener", name)), field, "a connector field never reaches a Listener")
			}
		})
	}
	t.Run("all fields at once pass the CRDs, and an unset field is not rendered", func(t *testing.T) {
		set := editService(t, "ie-gateway", func(s map[string]any) {
			selectorGateway(s)
			s["listener"] = listenerFields
			s["connector"] = connectorFields
		})
		l := find(t, render(t, hubRelease, set), "Listener", "ie-gateway-east")
		crds.validate(t, l)
		require.Len(t, specOf(l), 3+len(listenerFields), "routingKey, host, port and every listener field")
		c := find(t, render(t, eastRelease, set), "Connector", "ie-gateway-east")
		crds.validate(t, c)
		require.Len(t, specOf(c), 3+len(connectorFields), "routingKey, port, selector and every connector field")
		for _, o := range render(t, hubRelease, nil).Find("Listener") {
			require.ElementsMatch(t, []string{"routingKey", "host", "port"}, keys(specOf(o)), "the shipped catalog sets no extra field on %s", o.GetName())
			crds.validate(t, o)
		}
	})
	t.Run("hub-to-spoke: connector fields on the hub Connector, listener fields on the spoke Listeners", func(t *testing.T) {
		set := withService(t, map[string]any{"name": "registry", "direction": "hub-to-spoke", "port": 5000,
			"backend":   map[string]any{"host": "registry.infra.svc"},
			"listener":  map[string]any{"observer": "none"},
			"connector": map[string]any{"tlsCredentials": "registry-ca", "verifyHostname": true}})
		c := find(t, render(t, hubRelease, set), "Connector", "registry")
		require.Equal(t, "registry-ca", specOf(c)["tlsCredentials"])
		require.Equal(t, true, specOf(c)["verifyHostname"])
		crds.validate(t, c)
		l := find(t, render(t, westRelease, set), "Listener", "registry")
		require.Equal(t, "none", specOf(l)["observer"])
		crds.validate(t, l)
	})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSpokeOverridesReplaceServiceValuesForOneSpoke(t *testing.T) {
	crds := newCRDCheck(t)
	set := editService(t, "ie-gateway", func(s map[string]any) {
		s["listener"] = map[string]any{"observer": "http1", "settings": map[string]any{"a": "1", "b": "2"}}
		s["connector"] = map[string]any{"tlsCredentials": "gateway-ca", "verifyHostname": true}
		s["spokeOverrides"] = map[string]any{"west": map[string]any{
			"backend":   map[string]any{"selector": "app=west-gateway", "port": 8443},
			"listener":  map[string]any{"observer": "none", "settings": map[string]any{"b": "3"}},
			"connector": map[string]any{"verifyHostname": false, "tlsCredentials": "west-gateway-ca"},
		}}
	})
	hub := render(t, hubRelease, set)
	east, west := find(t, hub, "Listener", "ie-gateway-east"), find(t, hub, "Listener", "ie-gateway-west")
	require.Equal(t, "http1", specOf(east)["observer"], "east keeps the service's value")
	require.Equal(t, map[string]any{"a": "1", "b": "2"}, specOf(east)["settings"])
	require.Equal(t, "none", specOf(west)["observer"], "west's override wins")
	require.Equal(t, map[string]any{"a": "1", "b": "3"}, specOf(west)["settings"], "settings merge key by key, the override winning")
	crds.validate(t, east)
	crds.validate(t, west)

	ec := find(t, render(t, eastRelease, set), "Connector", "ie-gateway-east")
	require.Equal(t, "spoke-gateway", specOf(ec)["host"])
	require.EqualValues(t, 8080, specOf(ec)["port"])
	require.Equal(t, "gateway-ca", specOf(ec)["tlsCredentials"])
	require.Equal(t, true, specOf(ec)["verifyHostname"])
	wc := find(t, render(t, westRelease, set), "Connector", "ie-gateway-west")
	require.Equal(t, "app=west-gateway", specOf(wc)["selector"], "a backend override with a selector replaces the host")
	require.NotContains(t, specOf(wc), "host")
	require.EqualValues(t, 8443, specOf(wc)["port"])
	require.Equal(t, "west-gateway-ca", specOf(wc)["tlsCredentials"])
	require.Equal(t, false, specOf(wc)["verifyHostname"], "an override can turn a field off")
	crds.validate(t, ec)
	crds.validate(t, wc)
}

// TestSpokeOverridesPort: spokeOverrides.<spoke>.port replaces port for one
// spoke: its Listener (hub for spoke-to-hub, spoke for hub-to-spoke), the
// default port of its per-pod Listeners and, spoke-to-hub, of its
// Connector's backend; the one hub Connector of a hub-to-spoke service keeps
// the service's port.
func TestSpokeOverridesPort(t *testing.T) {
	crds := newCRDCheck(t)
	set := editService(t, "ie-gateway", func(s map[string]any) {
		s["spokeOverrides"] = map[string]any{"west": map[string]any{"port": 9443}}
	})
	hub := render(t, hubRelease, set)
	require.EqualValues(t, 8080, specOf(find(t, hub, "Listener", "ie-gateway-east"))["port"], "east keeps the service's port")
	west := find(t, hub, "Listener", "ie-gateway-west")
	require.EqualValues(t, 9443, specOf(west)["port"], "west's override wins")
	crds.validate(t, west)
	require.EqualValues(t, 8080, specOf(find(t, render(t, eastRelease, set), "Connector", "ie-gateway-east"))["port"])
	require.EqualValues(t, 9443, specOf(find(t, render(t, westRelease, set), "Connector", "ie-gateway-west"))["port"],
		"the backend port defaults to the spoke's port")

	t.Run("backend.port still wins over the spoke's port", func(t *testing.T) {
		set := editService(t, "ie-gateway", func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"port": 9443, "backend": map[string]any{"port": 8081}}}
		})
		require.EqualValues(t, 8081, specOf(find(t, render(t, westRelease, set), "Connector", "ie-gateway-west"))["port"])
		require.EqualValues(t, 9443, specOf(find(t, render(t, hubRelease, set), "Listener", "ie-gateway-west"))["port"])
	})
	t.Run("per-pod Listeners default to the spoke's port", func(t *testing.T) {
		set := editService(t, "kafka-tst", func(s map[string]any) {
			delete(s["podListeners"].(map[string]any), "port")
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"port": 19092}}
		})
		hub := render(t, hubRelease, set)
		for _, l := range hub.Find("Listener") {
			if l.GetLabels()["vanlink.io/service"] != "kafka-tst" {
				continue
			}
			want := int64(9092)
			if l.GetLabels()["vanlink.io/spoke"] == "west" {
				want = 19092
			}
			require.EqualValues(t, want, specOf(l)["port"], "Listener %s", l.GetName())
		}
	})
	t.Run("a hub-to-spoke service: the spoke's Listener, not the hub Connector", func(t *testing.T) {
		set := withService(t, map[string]any{"name": "registry", "direction": "hub-to-spoke", "port": 5000,
			"backend": map[string]any{"host": "registry"}, "spokeOverrides": map[string]any{"east": map[string]any{"port": 15000}}})
		require.EqualValues(t, 5000, specOf(find(t, render(t, hubRelease, set), "Connector", "registry"))["port"])
		el := find(t, render(t, eastRelease, set), "Listener", "registry")
		require.EqualValues(t, 15000, specOf(el)["port"])
		crds.validate(t, el)
		require.EqualValues(t, 5000, specOf(find(t, render(t, westRelease, set), "Listener", "registry"))["port"])
	})
}

func TestBadCatalogFieldsFailNamingTheField(t *testing.T) {
	gw := func(edit func(s map[string]any)) map[string]any { return editService(t, "ie-gateway", edit) }
	tests := map[string]struct {
		release release
		set     map[string]any
		want    []string
	}{
		"an unknown listener field": {hubRelease, gw(func(s map[string]any) { s["listener"] = map[string]any{"tlsCredential": "x"} }),
			[]string{"/catalog/services/0/listener", "tlsCredential"}},
		"an unknown connector field": {eastRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"verifyHost": true} }),
			[]string{"/catalog/services/0/connector", "verifyHost"}},
		"a connector field on the Listener side": {hubRelease, gw(func(s map[string]any) { s["listener"] = map[string]any{"useClientCert": true} }),
			[]string{"/catalog/services/0/listener", "useClientCert"}},
		"a type Skupper does not support": {hubRelease, gw(func(s map[string]any) { s["listener"] = map[string]any{"type": "http"} }),
			[]string{"/catalog/services/0/listener/type", "tcp"}},
		"an unknown observer": {hubRelease, gw(func(s map[string]any) { s["listener"] = map[string]any{"observer": "http3"} }),
			[]string{"/catalog/services/0/listener/observer", "http2"}},
		"a setting that is not a string": {hubRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"settings": map[string]any{"n": 1}} }),
			[]string{"/catalog/services/0/connector/settings/n", "string"}},
		"a boolean field given as a string": {eastRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"verifyHostname": "yes"} }),
			[]string{"/catalog/services/0/connector/verifyHostname", "boolean"}},
		"exposePodsByName on a host backend": {eastRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"exposePodsByName": true} }),
			[]string{"catalog.services[ie-gateway].connector.exposePodsByName", "backend.selector", "spoke-gateway"}},
		"a spoke override that gives a selector Connector a host backend": {eastRelease, editService(t, "kafka-tst", func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"backend": map[string]any{"host": "kafka-bootstrap"}}}
		}), []string{"catalog.services[kafka-tst].connector.exposePodsByName", "spoke west", "catalog.services[kafka-tst].spokeOverrides.west.backend.host", `"kafka-bootstrap"`}},
		"a spoke override that turns exposePodsByName off under podListeners": {hubRelease, editService(t, "kafka-tst", func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"connector": map[string]any{"exposePodsByName": false}}}
		}), []string{"catalog.services[kafka-tst].podListeners", "spoke west", "catalog.services[kafka-tst].spokeOverrides.west.connector.exposePodsByName"}},
		"includeNotReadyPods on a host backend": {eastRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"includeNotReadyPods": true} }),
			[]string{"catalog.services[ie-gateway].connector.includeNotReadyPods", "backend.selector"}},
		"useClientCert without tlsCredentials": {eastRelease, gw(func(s map[string]any) { s["connector"] = map[string]any{"useClientCert": true} }),
			[]string{"catalog.services[ie-gateway].connector.useClientCert", "tlsCredentials"}},
		"verifyHostname without tlsCredentials in a spoke override": {eastRelease, gw(func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"connector": map[string]any{"verifyHostname": true}}}
		}), []string{"catalog.services[ie-gateway].spokeOverrides.west.connector.verifyHostname", "tlsCredentials"}},
		"an override for a spoke that does not use the service": {hubRelease, gw(func(s map[string]any) {
			s["spokes"] = []any{"east"}
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"listener": map[string]any{"observer": "none"}}}
		}), []string{"catalog.services[ie-gateway].spokeOverrides.west", "does not use this service"}},
		"an override with an unknown key": {hubRelease, gw(func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"direction": "hub-to-spoke"}}
		}), []string{"/catalog/services/0/spokeOverrides/west", "direction"}},
		"an override with a port out of range": {eastRelease, gw(func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"port": 70000}}
		}), []string{"/catalog/services/0/spokeOverrides/west/port"}},
		"an override of a spoke name that is not a DNS label": {hubRelease, gw(func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"West": map[string]any{}}
		}), []string{"/catalog/services/0/spokeOverrides", "West"}},
		"an override of a backend that sets both host and selector": {westRelease, gw(func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"backend": map[string]any{"host": "a", "selector": "app=a"}}}
		}), []string{"catalog.services[ie-gateway].spokeOverrides.west.backend", "not both"}},
		"a hub-to-spoke override of the hub Connector": {hubRelease, withService(t, map[string]any{"name": "registry", "direction": "hub-to-spoke", "port": 5000,
			"backend": map[string]any{"host": "registry"}, "spokeOverrides": map[string]any{"east": map[string]any{"connector": map[string]any{"tlsCredentials": "x"}}}}),
			[]string{"catalog.services[registry].spokeOverrides.east.connector", "one Connector on the hub"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := charts.Render(t.Context(), repo(t, tc.release.chart), tc.release.options(t, tc.set))
			require.Error(t, err, "rendering must fail")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w, "the error must name the offending value")
			}
		})
	}
}

// TestCatalogSchemaNamesEveryUpstreamField keeps the catalog's listener and
// connector schemas in step with the project CRDs: every optional spec field
// of Listener and Connector has a catalog key of the same name, or is set by
// a catalog key of another name (listed here).
func TestCatalogSchemaNamesEveryUpstreamField(t *testing.T) {
	crds := newCRDCheck(t)
	setElsewhere := map[string]string{"routingKey": "routingKey", "host": "listenerName or backend.host", "port": "port or backend.port", "selector": "backend.selector"}
	for kind, fields := range map[string]map[string]any{"Listener": listenerFields, "Connector": connectorFields} {
		for f := range crds[kind].Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties {
			if _, ok := setElsewhere[f]; ok {
				continue
			}
			_, ok := fields[f]
			require.True(t, ok, fmt.Sprintf("%s spec.%s has no catalog field %s.%s", kind, f, strings.ToLower(kind), f))
		}
	}
}

// TestTheReadmeCatalogExampleRenders renders both charts with the catalog
// example of the hub chart README, so the documented format stays valid.
func TestTheReadmeCatalogExampleRenders(t *testing.T) {
	data, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "## The service catalog")
	require.True(t, ok)
	_, block, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok)
	block, _, _ = strings.Cut(block, "```")
	var set map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(block), &set))
	hub := render(t, release{"hub", charts.HubChart, nil}, set)
	require.Len(t, hub.Find("Listener"), 2, "kafka-east-tst and kafka-west-tst")
	west := render(t, release{"west", charts.SpokeChart, nil}, set)
	require.Equal(t, "kafka-bootstrap.kafka-west.svc", str(find(t, west, "Connector", "kafka-west-tst"), "spec", "host"), "west's override")
	require.Equal(t, "west-kafka-ca", str(find(t, west, "Connector", "kafka-west-tst"), "spec", "tlsCredentials"))
}

// readmeCatalogKeys returns the keys of the hub README's "Every catalog key"
// table.
func readmeCatalogKeys(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "\n### Every catalog key\n")
	require.True(t, ok, "the hub README has the section Every catalog key")
	section, _, _ = strings.Cut(section, "\n#")
	keys := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			keys[strings.Trim(strings.TrimSpace(cells[1]), "`")] = true
		}
	}
	return keys
}

// TestHubReadmeTableListsEveryCatalogKey walks the schema of a catalog
// service, spokeOverrides included, and requires a row of the hub README's
// table for each key path: every leaf of a service, spokeOverrides.<spoke>
// and each key an override takes, and for an override's nested keys the
// service's row they replace. The spoke README points to the table.
func TestHubReadmeTableListsEveryCatalogKey(t *testing.T) {
	data, err := os.ReadFile(repo(t, charts.HubChart+"/values.schema.json"))
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(data, &schema))
	item := dig(schema, "properties", "catalog", "properties", "services", "items")
	var want []string
	var leaves func(node map[string]any, prefix string)
	leaves = func(node map[string]any, prefix string) {
		props, _ := node["properties"].(map[string]any)
		if len(props) == 0 {
			want = append(want, prefix)
			return
		}
		for k, v := range props {
			leaves(v.(map[string]any), prefix+"."+k)
		}
	}
	for k, v := range item["properties"].(map[string]any) {
		node := v.(map[string]any)
		pattern, _ := node["patternProperties"].(map[string]any)
		if len(pattern) == 0 {
			leaves(node, k)
			continue
		}
		require.Equal(t, "spokeOverrides", k, "the only key with per-spoke keys")
		want = append(want, k+".<spoke>")
		for _, perSpoke := range pattern {
			for ok, ov := range perSpoke.(map[string]any)["properties"].(map[string]any) {
				want = append(want, k+".<spoke>."+ok)
				if props, _ := ov.(map[string]any)["properties"].(map[string]any); len(props) > 0 {
					leaves(ov.(map[string]any), ok)
				}
			}
		}
	}
	require.Contains(t, want, "certificate.privateKey.rotationPolicy", "the walk reaches nested keys")
	require.Contains(t, want, "spokeOverrides.<spoke>.port")
	table := readmeCatalogKeys(t)
	for _, k := range want {
		require.True(t, table[k], "the hub README's table Every catalog key must have a row for `%s`", k)
	}
	spoke, err := os.ReadFile(repo(t, charts.SpokeChart+"/README.md"))
	require.NoError(t, err)
	require.Contains(t, string(spoke), "(../service-interconnect/README.md#every-catalog-key)", "the spoke README points to the table")
}

func dig(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}
