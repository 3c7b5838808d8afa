package framework

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
)

//go:embed testdata/crds/*.yaml
var projectCRDs embed.FS

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Module versions whose CRD files the bed loads from the Go module cache.
const (
	// OCMModule provides ManagedCluster, ManifestWork, Placement, ... CRDs.
	// Its version is the one in the main go.mod.
	OCMModule = "open-cluster-management.io/api"
	// ArgoCDModule provides the ApplicationSet CRD.
	ArgoCDModule = "github.com/argoproj/argo-cd/v3@v3.5.7"
)

// ocmCRDFiles are the OCM CRD files the bed installs, relative to the module.
var ocmCRDFiles = map[string]string{
	"ManagedCluster":      "cluster/v1/0000_00_clusters.open-cluster-management.io_managedclusters.crd.yaml",
	"Placement":           "cluster/v1beta1/0000_02_clusters.open-cluster-management.io_placements.crd.yaml",
	"PlacementDecision":   "cluster/v1beta1/0000_03_clusters.open-cluster-management.io_placementdecisions.crd.yaml",
	"ManifestWork":        "work/v1/0000_00_work.open-cluster-management.io_manifestworks.crd.yaml",
	"AppliedManifestWork": "work/v1/0000_01_work.open-cluster-management.io_appliedmanifestworks.crd.yaml",
}

// SkupperCRDs returns the project's skupper.io/v2alpha1 CRDs.
func SkupperCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs("skupper.io_v2alpha1.yaml")
}

// ACMCRDs returns the project's ManagedClusterAction and ManagedClusterView CRDs.
func ACMCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs("action.open-cluster-management.io_v1beta1.yaml", "view.open-cluster-management.io_v1beta1.yaml")
}

// OLMCRDs returns the project's OLM Subscription CRD.
func OLMCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return embeddedCRDs("operators.coreos.com_v1alpha1.yaml")
}

func embeddedCRDs(files ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := projectCRDs.ReadFile("testdata/crds/" + f)
		if err != nil {
			return nil, err
		}
		crds, err := DecodeCRDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

// OCMCRDs returns the named OCM CRDs (all five when kinds is empty), read from
// the open-cluster-management.io/api module in the Go module cache.
func OCMCRDs(kinds ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir, err := moduleDir(OCMModule)
	if err != nil {
		return nil, err
	}
	if len(kinds) == 0 {
		kinds = []string{"ManagedCluster", "Placement", "PlacementDecision", "ManifestWork", "AppliedManifestWork"}
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, k := range kinds {
		rel, ok := ocmCRDFiles[k]
		if !ok {
			return nil, fmt.Errorf("no OCM CRD known for kind %q", k)
		}
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return nil, fmt.Errorf("reading the %s CRD from %s: %w", k, OCMModule, err)
		}
		crds, err := DecodeCRDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

// ArgoCDCRDs returns Argo CD's ApplicationSet CRD from the argo-cd module.
func ArgoCDCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir, err := moduleDir(ArgoCDModule)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifests", "crds", "applicationset-crd.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading the ApplicationSet CRD from %s: %w", ArgoCDModule, err)
	}
	return DecodeCRDs(data)
}

// DefaultHubCRDs are Skupper, ACM, OLM and all OCM CRDs.
func DefaultHubCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return concatCRDs(SkupperCRDs, ACMCRDs, OLMCRDs, func() ([]*apiextensionsv1.CustomResourceDefinition, error) { return OCMCRDs() })
}

// DefaultSpokeCRDs are Skupper, OLM and OCM's AppliedManifestWork CRDs.
func DefaultSpokeCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return concatCRDs(SkupperCRDs, OLMCRDs, func() ([]*apiextensionsv1.CustomResourceDefinition, error) {
		return OCMCRDs("AppliedManifestWork")
	})
}

func concatCRDs(sets ...func() ([]*apiextensionsv1.CustomResourceDefinition, error)) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, set := range sets {
		crds, err := set()
		if err != nil {
			return nil, err
		}
		out = append(out, crds...)
	}
	return out, nil
}

func (o Options) crds() (hub, spoke []*apiextensionsv1.CustomResourceDefinition, err error) {
	hub, spoke = o.HubCRDs, o.SpokeCRDs
	if hub == nil {
		if hub, err = DefaultHubCRDs(); err != nil {
			return nil, nil, err
		}
	}
	if spoke == nil {
		if spoke, err = DefaultSpokeCRDs(); err != nil {
			return nil, nil, err
		}
	}
	return append(hub, o.ExtraHubCRDs...), spoke, nil
}

// DecodeCRDs decodes a multi-document YAML stream of CRDs.
func DecodeCRDs(data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*apiextensionsv1.CustomResourceDefinition
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := dec.Decode(&crd); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if crd.Name == "" {
			continue
		}
		if crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("document %q is a %s, not a CustomResourceDefinition", crd.Name, crd.Kind)
		}
		out = append(out, &crd)
	}
}

// InstallCRDs creates (or updates) the CRDs and waits until each is Established.
func InstallCRDs(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	cs, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	api := cs.ApiextensionsV1().CustomResourceDefinitions()
	for _, crd := range crds {
		crd = crd.DeepCopy()
		_, err := api.Create(ctx, crd, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			var cur *apiextensionsv1.CustomResourceDefinition
			if cur, err = api.Get(ctx, crd.Name, metav1.GetOptions{}); err == nil {
				crd.ResourceVersion = cur.ResourceVersion
				_, err = api.Update(ctx, crd, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			return fmt.Errorf("installing CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			cur, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range cur.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not Established: %w", crd.Name, err)
		}
	}
	return nil
}

var (
	moduleDirsMu sync.Mutex
	moduleDirs   = map[string]string{}
)

// moduleDir returns the folder of a module in the Go module cache. A path
// without a version resolves through the main module's go.mod; a path@version
// is downloaded through the module proxy when missing.
func moduleDir(mod string) (string, error) {
	moduleDirsMu.Lock()
	defer moduleDirsMu.Unlock()
	if d, ok := moduleDirs[mod]; ok {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var out []byte
	if strings.Contains(mod, "@") {
		// Outside the main module, so the download never touches go.mod/go.sum.
		out, err = goCmd(os.TempDir(), "mod", "download", "-json", mod)
	} else {
		if out, err = goCmd(root, "list", "-m", "-json", mod); err == nil && !bytes.Contains(out, []byte(`"Dir"`)) {
			out, err = goCmd(root, "mod", "download", "-json", mod)
		}
	}
	if err != nil {
		return "", err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("reading go's answer about %s: %w", mod, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache: %s", mod, info.Error)
	}
	moduleDirs[mod] = info.Dir
	return info.Dir, nil
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// SchemalessCRD is a namespaced CRD serving gvr (its only, stored version)
// with objects of kind holding any fields: a stand-in for another project's
// CRD (Linkerd multicluster's links) or a scratch kind in tests.
func SchemalessCRD(gvr schema.GroupVersionResource, kind string) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: gvr.Resource + "." + gvr.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: gvr.Group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: gvr.Resource, Singular: strings.ToLower(kind), Kind: kind, ListKind: kind + "List"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: gvr.Version, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
}
