package charts

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/action"
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
	// Timeout of the install (default 2m).
	Timeout time.Duration
}

// Install installs (or upgrades, when the release exists) a chart into a
// cluster with the Helm SDK, as `helm upgrade --install` does.
func Install(ctx context.Context, chartDir string, o InstallOptions) (*release.Release, error) {
	ch, err := Load(chartDir)
	if err != nil {
		return nil, err
	}
	vals, err := o.Values()
	if err != nil {
		return nil, err
	}
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	name := o.ReleaseName
	if name == "" {
		name = ch.Name()
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &o.Kubeconfig
	flags.Namespace = &ns
	cfg := &action.Configuration{}
	if err := cfg.Init(flags, ns, "secret", func(format string, v ...any) { slog.Debug(fmt.Sprintf(format, v...)) }); err != nil {
		return nil, fmt.Errorf("helm: connecting to the cluster of %s: %w", o.Kubeconfig, err)
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	if _, err := hist.Run(name); err == nil {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.DisableHooks, up.Timeout = ns, o.DisableHooks, o.Timeout
		return up.RunWithContext(ctx, name, ch, vals)
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.DisableHooks, in.Timeout = name, ns, o.DisableHooks, o.Timeout
	return in.RunWithContext(ctx, ch, vals)
}
