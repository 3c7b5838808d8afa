// Package spokecreds turns hub Secrets into spoke connections, for fleets
// without ACM: an Argo CD cluster Secret (label
// argocd.argoproj.io/secret-type=cluster; data name, server and the config
// JSON with a bearer token and TLS data), or a Secret holding a kubeconfig
// (data key "kubeconfig"). A spoke is named by the label vanlink.io/cluster
// when set, else by an Argo CD cluster's name, else by the Secret's name.
package spokecreds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Labels and keys of credential Secrets.
const (
	ArgoSecretTypeLabel = "argocd.argoproj.io/secret-type"
	ArgoClusterType     = "cluster"
	ClusterLabel        = "vanlink.io/cluster"
	KubeconfigKey       = "kubeconfig"
	// InClusterServer is the address Argo CD uses for its own cluster (the hub).
	InClusterServer = "https://kubernetes.default.svc"
)

// Spoke is one spoke reachable with credentials held on the hub.
type Spoke struct {
	Name string
	// Secret is namespace/name of the Secret the credentials came from.
	Secret string
	Config *rest.Config
	Labels map[string]string
}

// Invalid is a credential Secret that cannot be used, and why.
type Invalid struct {
	Name, Secret, Reason string
}

// SecretLister lists Secrets of one namespace (a typed client's Secrets(ns)).
type SecretLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.SecretList, error)
}

// Load lists the credential Secrets matching selector and parses them. The
// hub's own Argo CD entry (server https://kubernetes.default.svc) is reported
// as invalid, as the hub is never a spoke.
func Load(ctx context.Context, secrets SecretLister, selector string) ([]Spoke, []Invalid, error) {
	if _, err := labels.Parse(selector); err != nil {
		return nil, nil, fmt.Errorf("credentials selector %q: %w", selector, err)
	}
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, nil, fmt.Errorf("listing spoke credential Secrets: %w", err)
	}
	var spokes []Spoke
	var invalid []Invalid
	seen := map[string]string{}
	for i := range list.Items {
		s := &list.Items[i]
		ref := s.Namespace + "/" + s.Name
		sp, err := Parse(s)
		if err != nil {
			invalid = append(invalid, Invalid{Name: nameOf(s), Secret: ref, Reason: err.Error()})
			continue
		}
		if other, dup := seen[sp.Name]; dup {
			invalid = append(invalid, Invalid{Name: sp.Name, Secret: ref, Reason: "cluster name also used by Secret " + other})
			continue
		}
		seen[sp.Name] = ref
		spokes = append(spokes, *sp)
	}
	sort.Slice(spokes, func(i, j int) bool { return spokes[i].Name < spokes[j].Name })
	sort.Slice(invalid, func(i, j int) bool { return invalid[i].Name < invalid[j].Name })
	return spokes, invalid, nil
}

// nameOf is the spoke's catalog name, as the ApplicationSets of
// values/argocd/clusters compute it: the label vanlink.io/cluster when set
// (an Argo CD cluster named by an EKS ARN or a GKE name is "west" in the
// catalog and the spoke chart), else an Argo CD cluster Secret's data name,
// else the Secret's name.
func nameOf(s *corev1.Secret) string {
	if n := strings.TrimSpace(s.Labels[ClusterLabel]); n != "" {
		return n
	}
	if n := strings.TrimSpace(string(s.Data["name"])); n != "" && s.Labels[ArgoSecretTypeLabel] == ArgoClusterType {
		return n
	}
	return s.Name
}

// Parse reads one credential Secret. Errors name the Secret and the field,
// never a token or key.
func Parse(s *corev1.Secret) (*Spoke, error) {
	ref := s.Namespace + "/" + s.Name
	sp := &Spoke{Name: nameOf(s), Secret: ref, Labels: s.Labels}
	if s.Labels[ArgoSecretTypeLabel] == ArgoClusterType {
		cfg, err := argoConfig(s)
		if err != nil {
			return nil, fmt.Errorf("Argo CD cluster Secret %s: %w", ref, err)
		}
		sp.Config = cfg
		return sp, nil
	}
	data, ok := s.Data[KubeconfigKey]
	if !ok {
		return nil, fmt.Errorf("Secret %s: no data key %q and not an Argo CD cluster Secret (label %s=%s)", ref, KubeconfigKey, ArgoSecretTypeLabel, ArgoClusterType)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("Secret %s: data %q is not a usable kubeconfig: %w", ref, KubeconfigKey, err)
	}
	sp.Config = cfg
	return sp, nil
}

// argoClusterConfig is the JSON of an Argo CD cluster Secret's config key.
type argoClusterConfig struct {
	BearerToken     string `json:"bearerToken"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	TLSClientConfig struct {
		Insecure   bool   `json:"insecure"`
		ServerName string `json:"serverName"`
		CAData     string `json:"caData"`
		CertData   string `json:"certData"`
		KeyData    string `json:"keyData"`
	} `json:"tlsClientConfig"`
}

func argoConfig(s *corev1.Secret) (*rest.Config, error) {
	server := strings.TrimSpace(string(s.Data["server"]))
	switch {
	case server == "":
		return nil, fmt.Errorf("data server is empty")
	case strings.TrimSuffix(server, "/") == InClusterServer:
		return nil, fmt.Errorf("server %s is the hub itself", server)
	case strings.TrimSpace(string(s.Data["name"])) == "":
		return nil, fmt.Errorf("data name is empty")
	}
	var c argoClusterConfig
	if err := json.Unmarshal(s.Data["config"], &c); err != nil {
		return nil, fmt.Errorf("data config is not the Argo CD cluster JSON: %v", err)
	}
	cfg := &rest.Config{Host: server, BearerToken: c.BearerToken, Username: c.Username, Password: c.Password}
	cfg.TLSClientConfig.Insecure = c.TLSClientConfig.Insecure
	cfg.TLSClientConfig.ServerName = c.TLSClientConfig.ServerName
	for field, pair := range map[string]struct {
		in  string
		out *[]byte
	}{
		"caData":   {c.TLSClientConfig.CAData, &cfg.TLSClientConfig.CAData},
		"certData": {c.TLSClientConfig.CertData, &cfg.TLSClientConfig.CertData},
		"keyData":  {c.TLSClientConfig.KeyData, &cfg.TLSClientConfig.KeyData},
	} {
		if pair.in == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(pair.in)
		if err != nil {
			return nil, fmt.Errorf("data config: tlsClientConfig.%s is not base64", field)
		}
		*pair.out = b
	}
	if cfg.BearerToken == "" && len(cfg.TLSClientConfig.CertData) == 0 && cfg.Username == "" {
		return nil, fmt.Errorf("data config holds no credentials (bearerToken, certData/keyData or username/password)")
	}
	return cfg, nil
}

// ArgoSecret builds an Argo CD cluster Secret for a spoke (used by tests,
// demos and the kind tier to register clusters the way Argo CD does).
func ArgoSecret(namespace, name, server string, cfg *rest.Config, labels map[string]string) (*corev1.Secret, error) {
	c := argoClusterConfig{BearerToken: cfg.BearerToken}
	c.TLSClientConfig.Insecure = cfg.TLSClientConfig.Insecure
	c.TLSClientConfig.CAData = base64.StdEncoding.EncodeToString(cfg.TLSClientConfig.CAData)
	if len(cfg.TLSClientConfig.CertData) > 0 {
		c.TLSClientConfig.CertData = base64.StdEncoding.EncodeToString(cfg.TLSClientConfig.CertData)
		c.TLSClientConfig.KeyData = base64.StdEncoding.EncodeToString(cfg.TLSClientConfig.KeyData)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	l := map[string]string{ArgoSecretTypeLabel: ArgoClusterType}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + name, Namespace: namespace, Labels: l},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"name": []byte(name), "server": []byte(server), "config": data},
	}, nil
}
