package skupper

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Condition types, status values and the OK message of skupper.io/v2alpha1.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go (CONDITION_TYPE_*, STATUS_OK)
const (
	condConfigured  = "Configured"
	condResolved    = "Resolved"
	condRunning     = "Running"
	condProcessed   = "Processed"
	condRedeemed    = "Redeemed"
	condOperational = "Operational"
	condReady       = "Ready"

	statusReady   = "Ready"
	statusPending = "Pending"
	statusError   = "Error"
	statusOK      = "OK"
)

// state is one condition's status, reason and message.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go ConditionState
type state struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go ReadyCondition, ErrorCondition, PendingCondition, ErrorOrReadyCondition
func readyState() state             { return state{metav1.ConditionTrue, statusReady, statusOK} }
func errorState(err error) state    { return state{metav1.ConditionFalse, statusError, err.Error()} }
func pendingState(msg string) state { return state{metav1.ConditionFalse, statusPending, msg} }
func errorOrReady(err error) state {
	if err != nil {
		return errorState(err)
	}
	return readyState()
}

// objStatus is the common part of every Skupper status: conditions, status
// and message. It is read from and written back to an unstructured object,
// leaving the kind's other status fields alone.
type objStatus struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	Status     string             `json:"status,omitempty"`
	Message    string             `json:"message,omitempty"`

	generation int64
	now        time.Time
}

// readStatus reads obj's status; malformed conditions are dropped (the
// controller rewrites them).
func readStatus(obj *unstructured.Unstructured, now time.Time) *objStatus {
	s := &objStatus{generation: obj.GetGeneration(), now: now}
	s.Status, _, _ = unstructured.NestedString(obj.Object, "status", "status")
	s.Message, _, _ = unstructured.NestedString(obj.Object, "status", "message")
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range raw {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err == nil {
			s.Conditions = append(s.Conditions, cond)
		}
	}
	return s
}

// write puts the conditions, status and message back into obj.
func (s *objStatus) write(obj *unstructured.Unstructured) {
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	var conds []any
	for i := range s.Conditions {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&s.Conditions[i])
		if err == nil {
			conds = append(conds, m)
		}
	}
	setOrDelete(status, "conditions", conds, len(conds) > 0)
	setOrDelete(status, "status", s.Status, s.Status != "")
	setOrDelete(status, "message", s.Message, s.Message != "")
	obj.Object["status"] = status
}

func setOrDelete(m map[string]any, key string, v any, set bool) {
	if set {
		m[key] = v
	} else {
		delete(m, key)
	}
}

// set sets one condition with metav1 semantics: lastTransitionTime changes
// only when the condition's status changes.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Status.SetCondition, setStatusCondition
func (s *objStatus) set(condType string, st state) bool {
	return meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: condType, Status: st.status, Reason: st.reason,
		Message: st.message, ObservedGeneration: s.generation, LastTransitionTime: metav1.NewTime(s.now)})
}

// remove drops a condition.
func (s *objStatus) remove(condType string) bool {
	return meta.RemoveStatusCondition(&s.Conditions, condType)
}

func (s *objStatus) isTrue(condType string) bool {
	return meta.IsStatusConditionTrue(s.Conditions, condType)
}

// readiness derives the Ready state from the required conditions: the first
// missing one gives Pending "Not <type>", the first False one its own reason
// and message.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Status.readyState
func (s *objStatus) readiness(required []string) state {
	for _, t := range required {
		c := meta.FindStatusCondition(s.Conditions, t)
		if c == nil {
			return pendingState("Not " + t)
		}
		if c.Status == metav1.ConditionFalse {
			return state{metav1.ConditionFalse, c.Reason, c.Message}
		}
	}
	return readyState()
}

// setReady sets status, message and the Ready condition from the required
// conditions.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Status.setReady
func (s *objStatus) setReady(required []string) bool {
	st := s.readiness(required)
	changed := s.Status != st.reason || s.Message != st.message
	s.Status, s.Message = st.reason, st.message
	if s.set(condReady, st) {
		changed = true
	}
	return changed
}

// The required conditions of each kind.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Site.requiredConditions, Link.SetConfigured, AccessGrant.SetResolved
var (
	linkRequired  = []string{condConfigured, condOperational}
	grantRequired = []string{condProcessed, condResolved}
)

func siteRequired(resolutionRequired bool) []string {
	if resolutionRequired {
		return []string{condConfigured, condRunning, condResolved}
	}
	return []string{condConfigured, condRunning}
}
