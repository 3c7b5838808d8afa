package charts

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// InstallOptions are the inputs of Install.
type InstallOptions struct {
	Options
	// Kubeconfig of the target cluster.
	Kubeconfig string
	// DisableHooks skips the chart's hooks (the test bed has no Job
	// controller: whoever installs runs the hook's command itself).
	DisableHooks bool
	// Wait waits for the release's workloads to be ready, as helm --wait.
	Wait bool
	// CreateNamespace creates the release namespace when missing.
	CreateNamespace bool
	// Timeout of the install, hooks and wait included (default 2m).
	Timeout time.Duration
}

// Install installs (or upgrades, when the release exists) a chart into a
// cluster with the Helm SDK, as `helm upgrade --install` does.
func Install(ctx context.Context, chartDir string, o InstallOptions) (*release.Release, error) {
	ch, err := Load(chartDir)
	if err != nil {
		return nil, err
	}
	return InstallChart(ctx, ch, o)
}

// InstallChart is Install for a loaded chart (a local one, or one pulled with Pull).
func InstallChart(ctx context.Context, ch *chart.Chart, o InstallOptions) (*release.Release, error) {
	vals, err := o.Values()
	if err != nil {
		return nil, err
	}
	name := o.ReleaseName
	if name == "" {
		name = ch.Name()
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	cfg, ns, err := helmConfig(o.Kubeconfig, o.Namespace)
	if err != nil {
		return nil, err
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	if _, err := hist.Run(name); err == nil {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.DisableHooks, up.Timeout, up.Wait = ns, o.DisableHooks, o.Timeout, o.Wait
		return up.RunWithContext(ctx, name, ch, vals)
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.DisableHooks, in.Timeout, in.Wait = name, ns, o.DisableHooks, o.Timeout, o.Wait
	in.CreateNamespace = o.CreateNamespace
	return in.RunWithContext(ctx, ch, vals)
}

// Uninstall removes a release, as `helm uninstall --ignore-not-found`; with
// a wait above zero it also waits that long for the objects to be gone
// (--wait --timeout).
func Uninstall(kubeconfig, namespace, release string, wait time.Duration) error {
	cfg, _, err := helmConfig(kubeconfig, namespace)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.IgnoreNotFound, un.Wait, un.Timeout = true, wait > 0, wait
	if _, err := un.Run(release); err != nil {
		return fmt.Errorf("helm uninstall %s: %w", release, err)
	}
	return nil
}

// Pull fetches a chart from an OCI registry (oci://host/repo/name) at an
// exact version, as `helm pull`, and loads it. Helm's cache is used.
func Pull(ref, version string) (*chart.Chart, error) {
	if !registry.IsOCI(ref) {
		return nil, fmt.Errorf("helm pull: %q is not an oci:// reference", ref)
	}
	if version == "" {
		return nil, fmt.Errorf("helm pull %s: a version is required (charts are pinned)", ref)
	}
	rc, err := registry.NewClient(registry.ClientOptWriter(os.Stderr))
	if err != nil {
		return nil, fmt.Errorf("helm registry client: %w", err)
	}
	in := action.NewInstall(&action.Configuration{RegistryClient: rc})
	in.Version = version
	path, err := in.LocateChart(ref, cli.New())
	if err != nil {
		return nil, fmt.Errorf("helm pull %s --version %s: %w", ref, version, err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return ch, nil
}

// helmConfig connects Helm's action configuration to the cluster of a
// kubeconfig, for a namespace (default "default").
func helmConfig(kubeconfig, namespace string) (*action.Configuration, string, error) {
	if namespace == "" {
		namespace = "default"
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &namespace
	cfg := &action.Configuration{}
	if err := cfg.Init(flags, namespace, "secret", func(format string, v ...any) { slog.Debug(fmt.Sprintf(format, v...)) }); err != nil {
		return nil, "", fmt.Errorf("helm: connecting to the cluster of %s: %w", kubeconfig, err)
	}
	return cfg, namespace, nil
}
