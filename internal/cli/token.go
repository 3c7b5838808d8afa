package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
)

type tokenOptions struct {
	global   *globalOptions
	target   grantOptions
	linkCost int64
	cluster  string
}

func newTokenCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	o := &tokenOptions{global: g}
	c := &cobra.Command{
		Use:   "token --cluster NAME",
		Short: "Print the AccessToken YAML for one spoke (manual fallback; prints the grant code)",
		Long: `token builds, from the live hub AccessGrant, the AccessToken a spoke needs and
prints it as YAML on standard output, for linking a spoke by hand without ACM:

  vanlink token --cluster east | kubectl --context east apply -f -

It refuses while the grant cannot be redeemed or the hub Site cannot issue
links (not Ready, or no link endpoints): such a token would spend redemptions
and be refused.

This is the one vanlink command that prints the grant code. The output is a
secret: do not commit it or paste it into logs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd, streams) },
	}
	o.target.AddFlags(c.Flags())
	addLinkCostFlag(c.Flags(), &o.linkCost)
	c.Flags().StringVar(&o.cluster, "cluster", "", "the spoke the token is for (required)")
	return c
}

// Validate checks the flags of token.
func (o *tokenOptions) Validate() error {
	if o.cluster == "" {
		return flagError("--cluster", o.cluster, "is required (the spoke the token is for)")
	}
	if errs := validation.IsDNS1123Label(o.cluster); len(errs) > 0 {
		return flagError("--cluster", o.cluster, "%s", strings.Join(errs, "; "))
	}
	if err := o.target.Validate(); err != nil {
		return err
	}
	return validateLinkCost(o.linkCost)
}

func (o *tokenOptions) Run(cmd *cobra.Command, streams IOStreams) error {
	defaultNamespace(cmd, o.global, &o.target.namespace)
	c, err := connect(o.global, o.Validate)
	if err != nil {
		return err
	}
	e := &reconcile.Engine{Grants: c.dyn.Resource(skupper.AccessGrantsGVR).Namespace(o.target.namespace),
		Sites: c.dyn.Resource(skupper.SitesGVR).Namespace(o.target.namespace),
		Opts:  reconcile.Options{GrantNamespace: o.target.namespace, GrantName: o.target.grant}}
	g, err := e.ReadGrant(cmd.Context())
	if err != nil {
		return c.explain(err)
	}
	h := g.Health(time.Now())
	if h.Left == 0 || h.Expired {
		return fmt.Errorf("AccessGrant %s/%s cannot be redeemed (%d of %d redemptions left, expired: %v): a token built from it would fail", g.Namespace, g.Name, h.Left, h.Allowed, h.Expired)
	}
	// A token redeemed while the hub Site cannot issue links is counted and
	// refused, again on every retry of the spoke's controller.
	if err := e.CheckHub(cmd.Context()); err != nil {
		return fmt.Errorf("no token printed: %w", c.explain(err))
	}
	tok := skupper.NewTokenRequest(g, skupper.TokenOptions{Name: o.target.tokenName, Namespace: o.target.spokeNamespace, LinkCost: o.linkCost}).Reveal()
	tok.SetLabels(map[string]string{skupper.ManagedByLabel: skupper.ManagedByValue, "vanlink.io/spoke": o.cluster})
	data, err := yaml.Marshal(tok.Object)
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.ErrOut, "warning: the AccessToken printed on standard output holds the grant code of AccessGrant %s/%s, a secret: apply it to spoke %s, do not commit it, paste it or keep it in logs\n", g.Namespace, g.Name, o.cluster)
	fmt.Fprintf(streams.Out, "# AccessToken for spoke %s from AccessGrant %s/%s. Contains the grant code: keep it secret.\n", o.cluster, g.Namespace, g.Name)
	_, err = streams.Out.Write(data)
	return err
}
