package skupper

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// Labels the charts put on the Listeners and Connectors of the service
// catalog.
const (
	// ServiceLabel names the catalog service of a Listener or Connector.
	ServiceLabel = "vanlink.io/service"
	// SpokeLabel names the spoke whose service a hub Listener serves.
	SpokeLabel = "vanlink.io/spoke"
	// PodLabel names the pod a per-pod Listener reaches (podListeners).
	PodLabel = "vanlink.io/pod"
)

// Listener is a typed view of a Listener.
type Listener struct {
	Name, Namespace string
	RoutingKey      string
	Host            string
	Port            int64
	// HasMatchingConnector is status.hasMatchingConnector: whether a Connector
	// with the same routing key is active anywhere in the Listener's network
	// (upstream skupperproject/skupper internal/kube/site/binding_status.go
	// BindingStatus.updateMatchingConnectorCount; omitted when false).
	HasMatchingConnector bool
	Status, Message      string
	// Service, Spoke and Pod come from the catalog's labels.
	Service, Spoke, Pod string
}

// ParseListener reads a Listener.
func ParseListener(obj *unstructured.Unstructured) (*Listener, error) {
	f := &fields{obj: obj}
	l := &Listener{Name: obj.GetName(), Namespace: obj.GetNamespace()}
	l.RoutingKey = f.str("spec", "routingKey")
	l.Host = f.str("spec", "host")
	l.Port, _ = f.int("spec", "port")
	l.HasMatchingConnector = f.bool("status", "hasMatchingConnector")
	l.Status = f.str("status", "status")
	l.Message = f.str("status", "message")
	labels := obj.GetLabels()
	l.Service, l.Spoke, l.Pod = labels[ServiceLabel], labels[SpokeLabel], labels[PodLabel]
	if f.err != nil {
		return nil, f.err
	}
	return l, nil
}
