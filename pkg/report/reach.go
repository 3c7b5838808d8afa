package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// ServiceRecord is one hub Listener of a spoke's catalog service and whether
// the network offers it: Matched is the Listener's
// status.hasMatchingConnector, set by Skupper when a Connector with the same
// routing key is active on a site of the network (upstream
// skupperproject/skupper internal/kube/site/binding_status.go
// BindingStatus.updateMatchingConnectorCount), so false means hub clients of
// that Listener reach nothing: the spoke's Connector is missing, selects no
// ready pod, or the spoke is not linked.
type ServiceRecord struct {
	Service    string `json:"service"`
	Listener   string `json:"listener"`
	Pod        string `json:"pod,omitempty"`
	RoutingKey string `json:"routingKey"`
	Matched    bool   `json:"hasMatchingConnector"`
	// Status is the Listener's status.status (Ready, Pending, Error).
	Status string `json:"status,omitempty"`
}

// ListenerLister lists the hub's Listeners (a dynamic client's namespaced
// Listener resource).
type ListenerLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)
}

// Reachability lists the hub Listeners of the service catalog (those the hub
// chart labels with the spoke they serve) and returns them per spoke, sorted
// by service, then the service's own Listener before its per-pod ones.
func Reachability(ctx context.Context, l ListenerLister) (map[string][]ServiceRecord, error) {
	list, err := l.List(ctx, metav1.ListOptions{LabelSelector: skupper.SpokeLabel})
	if err != nil {
		return nil, fmt.Errorf("listing the hub Listeners: %w", err)
	}
	out := map[string][]ServiceRecord{}
	for i := range list.Items {
		lis, err := skupper.ParseListener(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out[lis.Spoke] = append(out[lis.Spoke], ServiceRecord{Service: lis.Service, Listener: lis.Name, Pod: lis.Pod,
			RoutingKey: lis.RoutingKey, Matched: lis.HasMatchingConnector, Status: lis.Status})
	}
	for _, s := range out {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Service != s[j].Service {
				return s[i].Service < s[j].Service
			}
			if (s[i].Pod == "") != (s[j].Pod == "") {
				return s[i].Pod == ""
			}
			return s[i].Listener < s[j].Listener
		})
	}
	return out, nil
}

// ObserveReachability sets r.Services to the hub Listeners as they are now.
// When they cannot be listed it keeps what r (or prev, the record it
// replaces) held and returns the error for the caller to report; a pass
// never fails for it.
func ObserveReachability(ctx context.Context, r, prev *Record, l ListenerLister, now time.Time) error {
	svc, err := Reachability(ctx, l)
	if err != nil {
		if r.Services == nil && prev != nil {
			r.Services, r.ServicesObserved = prev.Services, prev.ServicesObserved
		}
		return err
	}
	r.Services, r.ServicesObserved = svc, &now
	return nil
}

// ServiceSummary is the reachability of one catalog service of a spoke.
type ServiceSummary struct {
	Service string
	// Listener is the service's own hub Listener (empty when only per-pod
	// Listeners were found); Matched is its hasMatchingConnector.
	Listener string
	Matched  bool
	// Pods and PodsMatched count the service's per-pod Listeners.
	Pods, PodsMatched int
}

// Reachable says whether hub clients reach the service: its Listener and
// every per-pod Listener have a matching Connector.
func (s ServiceSummary) Reachable() bool {
	return (s.Listener == "" || s.Matched) && s.PodsMatched == s.Pods
}

// Summarize folds a spoke's Listeners into one summary per service, in order.
func Summarize(records []ServiceRecord) []ServiceSummary {
	var out []ServiceSummary
	idx := map[string]int{}
	for _, r := range records {
		i, ok := idx[r.Service]
		if !ok {
			i = len(out)
			idx[r.Service] = i
			out = append(out, ServiceSummary{Service: r.Service})
		}
		if r.Pod == "" {
			out[i].Listener, out[i].Matched = r.Listener, r.Matched
			continue
		}
		out[i].Pods++
		if r.Matched {
			out[i].PodsMatched++
		}
	}
	return out
}
