package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// registerCompletions adds shell completion (cobra's completion command) for
// every enum flag of every command and of the root (--log-format), --context (the kubeconfig's contexts) and
// --namespace (the hub's namespaces, as kubectl completes them).
func registerCompletions(root *cobra.Command, g *globalOptions) {
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return g.contextNames(), cobra.ShellCompDirectiveNoFileComp
	})
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if e, ok := f.Value.(*enumValue); ok {
			_ = root.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(e.allowed, cobra.ShellCompDirectiveNoFileComp))
		}
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if e, ok := f.Value.(*enumValue); ok {
				_ = c.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(e.allowed, cobra.ShellCompDirectiveNoFileComp))
			}
			if f.Name == "namespace" || f.Name == "credentials-namespace" {
				_ = c.RegisterFlagCompletionFunc(f.Name, func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
					return g.namespaceNames(cmd.Context(), prefix), cobra.ShellCompDirectiveNoFileComp
				})
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func (o *globalOptions) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
}

// contextNames lists the contexts of the kubeconfig, sorted.
func (o *globalOptions) contextNames() []string {
	raw, err := o.loader().RawConfig()
	if err != nil {
		return nil
	}
	var names []string
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// contextNamespace is the namespace of the kubeconfig context in use, when
// it sets one ("" otherwise), as kubectl defaults -n.
func (o *globalOptions) contextNamespace() string {
	raw, err := o.loader().RawConfig()
	if err != nil {
		return ""
	}
	name := o.context
	if name == "" {
		name = raw.CurrentContext
	}
	if c, ok := raw.Contexts[name]; ok {
		return c.Namespace
	}
	return ""
}

// namespaceNames lists the hub's namespaces that start with prefix, within a
// few seconds; nothing when the hub cannot be reached.
func (o *globalOptions) namespaceNames(ctx context.Context, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.restConfig()
	if err != nil {
		return nil
	}
	cfg.Timeout = 5 * time.Second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, ns := range list.Items {
		if strings.HasPrefix(ns.Name, prefix) {
			out = append(out, ns.Name)
		}
	}
	return out
}

// defaultNamespace sets *ns to the kubeconfig context's namespace when -n
// was not given and the context has one, as kubectl does.
func defaultNamespace(cmd *cobra.Command, g *globalOptions, ns *string) {
	if cmd.Flags().Changed("namespace") {
		return
	}
	if n := g.contextNamespace(); n != "" {
		*ns = n
	}
}

// noKubeconfig says how to point vanlink at a hub when the kubeconfig
// loaded has no cluster or context: the file named by --kubeconfig or
// $KUBECONFIG is empty, or there is no kubeconfig at all (and vanlink does
// not run in a pod).
func (o *globalOptions) noKubeconfig(err error) error {
	if o.kubeconfig != "" {
		return flagError("--kubeconfig", o.kubeconfig, "the file has no cluster or context to reach the hub: write the hub's kubeconfig there ('oc login' or 'kubectl config' with KUBECONFIG set to it), or name another file (%w)", err)
	}
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); anyFile(filepath.SplitList(env)) {
		return fmt.Errorf("$KUBECONFIG %q: its files have no cluster or context to reach the hub: write the hub's kubeconfig there, or pass --kubeconfig PATH (%w)", env, err)
	}
	return fmt.Errorf("no kubeconfig to reach the hub: vanlink connects as kubectl does, so pass --kubeconfig PATH, set KUBECONFIG, "+
		"or write ~/.kube/config (e.g. 'oc login' or 'kubectl config' on the hub), and choose a context with --context; in a pod it uses its ServiceAccount (%w)", err)
}

// anyFile reports whether one of paths is a file that exists.
func anyFile(paths []string) bool {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return true
		}
	}
	return false
}
