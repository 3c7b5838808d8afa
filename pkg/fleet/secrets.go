package fleet

import (
	"context"

	"github.com/vanlink/vanlink/pkg/spokecreds"
)

// BySecrets selects the spokes that have credentials on the hub: Argo CD
// cluster Secrets or kubeconfig Secrets matching a label selector, so an
// Argo CD fleet without ACM works unchanged. Secrets that cannot be used are
// reported as skipped with the reason.
type BySecrets struct {
	Secrets  spokecreds.SecretLister
	Selector string
}

var _ Source = BySecrets{}

// Select lists the credential Secrets once.
func (s BySecrets) Select(ctx context.Context) (Selection, error) {
	spokes, invalid, err := spokecreds.Load(ctx, s.Secrets, s.Selector)
	if err != nil {
		return Selection{}, err
	}
	var sel Selection
	for _, sp := range spokes {
		sel.Clusters = append(sel.Clusters, Cluster{Name: sp.Name, Labels: sp.Labels})
	}
	for _, inv := range invalid {
		sel.Skipped = append(sel.Skipped, Skipped{Name: inv.Name, Reason: inv.Reason})
	}
	sortSelection(&sel)
	return sel, nil
}
