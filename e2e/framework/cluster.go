package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Cluster is one kube-apiserver of the bed: the hub or a spoke.
type Cluster struct {
	// Name is "hub" or the spoke's name.
	Name string
	// URL is the https address of the API server on 127.0.0.1.
	URL string
	// Config authenticates as a member of system:masters.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file equivalent to Config.
	Kubeconfig string

	port    int
	dir     string
	proc    *process
	env     *Env
	running bool
	// etcdPrefix is where the API server keeps its data: /vanlink/<name>,
	// and for a cluster of a name the bed had before (a spoke added again
	// after Reset removed it) a new prefix, so that it starts empty.
	etcdPrefix string
}

// Kube returns a typed clientset with admin rights.
func (c *Cluster) Kube() kubernetes.Interface { return kubernetes.NewForConfigOrDie(c.Config) }

// Dynamic returns a dynamic client with admin rights.
func (c *Cluster) Dynamic() dynamic.Interface { return dynamic.NewForConfigOrDie(c.Config) }

// Port is the API server's secure port.
func (c *Cluster) Port() int { return c.port }

// PID is the API server's process id, 0 when stopped.
func (c *Cluster) PID() int { return c.proc.pid() }

// LogPath is the API server's log file.
func (c *Cluster) LogPath() string { return c.proc.logPath }

// Stop stops the API server; its data stays in etcd. Start brings it back on
// the same address, so clients and kubeconfigs stay valid.
func (c *Cluster) Stop() {
	c.proc.stop(3 * time.Second)
	c.running = false
}

// Start (re)starts a stopped API server and waits until it is ready.
func (c *Cluster) Start(ctx context.Context) error {
	if c.running {
		return nil
	}
	if err := c.proc.start(); err != nil {
		return err
	}
	if err := c.proc.waitReady(ctx, c.ready); err != nil {
		c.proc.stop(5 * time.Second)
		return err
	}
	c.running = true
	return nil
}

func (c *Cluster) ready(ctx context.Context) error {
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 2 * time.Second
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = kc.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// ServiceAccountConfig returns a rest.Config authenticated as the named
// ServiceAccount of this cluster (a TokenRequest, valid one hour).
func (c *Cluster) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	cfg, err := ServiceAccountConfig(ctx, c.Config, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return cfg, nil
}

// WriteKubeconfig writes a kubeconfig for cfg (which must point at this
// cluster) to path, with the context named after the cluster.
func (c *Cluster) WriteKubeconfig(path string, cfg *rest.Config) error {
	return WriteKubeconfig(path, c.Name, cfg)
}

// ServiceAccountConfig returns a copy of admin (any cluster's admin config)
// authenticated instead as the named ServiceAccount, through a TokenRequest
// valid one hour: a client gets exactly that account's RBAC.
func ServiceAccountConfig(ctx context.Context, admin *rest.Config, namespace, name string) (*rest.Config, error) {
	expiry := int64(3600)
	kc, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	tr, err := kc.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1CreateOptions)
	if err != nil {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tr.Status.Token
	return cfg, nil
}

// ServiceAccountKubeconfig writes to path a kubeconfig of the named
// ServiceAccount (see ServiceAccountConfig), for programs run as it.
func ServiceAccountKubeconfig(ctx context.Context, admin *rest.Config, namespace, name, path string) error {
	cfg, err := ServiceAccountConfig(ctx, admin, namespace, name)
	if err != nil {
		return err
	}
	return WriteKubeconfig(path, name, cfg)
}

// WriteKubeconfig writes a kubeconfig file for cfg (server, CA, bearer
// token) to path, with its one context named name.
func WriteKubeconfig(path, name string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*kc, path)
}

// newCluster prepares (but does not start) an API server for the bed.
func (e *Env) newCluster(name string) (*Cluster, error) {
	dir := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, dir: dir, env: e, etcdPrefix: "/vanlink/" + name}
	e.mu.Lock()
	if n := e.made[name]; n > 0 {
		c.etcdPrefix = fmt.Sprintf("/vanlink/%s.%d", name, n)
	}
	if e.made == nil {
		e.made = map[string]int{}
	}
	e.made[name]++
	e.mu.Unlock()
	c.proc = &process{name: "kube-apiserver " + name, path: e.bins.KubeAPIServer, logPath: filepath.Join(dir, "kube-apiserver.log")}
	return c, c.assignPort(e)
}

func (c *Cluster) assignPort(e *Env) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	c.port = port
	c.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	c.Config = &rest.Config{
		Host:            c.URL,
		BearerToken:     e.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.pki.caPEM},
		QPS:             -1, // the bed is local: no client-side throttling
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	c.proc.args = []string{
		"--etcd-servers=" + e.etcdURL,
		"--etcd-prefix=" + c.etcdPrefix,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.dir, "certs"),
		"--tls-cert-file=" + e.pki.servingCert,
		"--tls-private-key-file=" + e.pki.servingKey,
		"--token-auth-file=" + e.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + e.pki.saPublic,
		"--service-account-signing-key-file=" + e.pki.saPrivate,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
	}
	c.proc.args = append(c.proc.args, e.opts.APIServerArgs...)
	return c.WriteKubeconfig(c.Kubeconfig, c.Config)
}

// startWithRetry starts the API server, moving to a new port when another
// program took the chosen one first.
func (c *Cluster) startWithRetry(ctx context.Context) error {
	var err error
	for range 3 {
		if err = c.Start(ctx); !errors.Is(err, errAddrInUse) {
			return err
		}
		if err := c.assignPort(c.env); err != nil {
			return err
		}
	}
	return err
}
