package kind

import "github.com/vanlink/vanlink/e2e/scenarios"

// SetHubLoadBalancer cannot switch a LoadBalancer provider on kind: the kind
// tier reaches the hub router through NodePorts and runs none.
func (p *Provider) SetHubLoadBalancer(bool) error { return scenarios.ErrNotSupported }
