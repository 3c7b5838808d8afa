// Package report records a pass on the hub: Kubernetes Events on the
// AccessGrant and a status ConfigMap that `vanlink status` reads. Neither
// ever holds the grant code. The status record stays within one ConfigMap
// at fleet scale: it is stored compact, spokes with equal records share one
// entry, and a record that still does not fit is reduced in steps that keep
// the detail of the spokes that are not linked longest (see Encode).
package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

// StatusKey is the ConfigMap key holding the JSON record.
const StatusKey = "status.json"

// SpokeRecord is what the status record keeps per spoke.
type SpokeRecord struct {
	State  reconcile.Outcome `json:"state"`
	Action reconcile.Action  `json:"action"`
	Reason string            `json:"reason,omitempty"`
	// Recorded is when the pass that recorded State started.
	Recorded *time.Time `json:"recorded,omitempty"`
	// Since is when the spoke entered State (the first pass that recorded it,
	// as a condition's lastTransitionTime).
	Since *time.Time `json:"since,omitempty"`
	// LastPush is when a token was last pushed to the spoke.
	LastPush *time.Time `json:"lastPush,omitempty"`
	// LastError, LastErrorTime and LastErrorGrant (the grant of the pass that
	// produced it) belong to the push that failed: a later successful push or
	// link clears them, and so does a pass with another grant (the error
	// came from a grant that no longer exists).
	LastError      string     `json:"lastError,omitempty"`
	LastErrorTime  *time.Time `json:"lastErrorTime,omitempty"`
	LastErrorGrant types.UID  `json:"lastErrorGrant,omitempty"`
}

// TransportRecord is how the recording pass reached the spokes and chose
// them, so that 'vanlink status --live' observes them the same way.
type TransportRecord struct {
	Name                 string `json:"name"`
	ClusterSelector      string `json:"clusterSelector,omitempty"`
	Placement            string `json:"placement,omitempty"`
	CredentialsNamespace string `json:"credentialsNamespace,omitempty"`
	CredentialsSelector  string `json:"credentialsSelector,omitempty"`
}

// Record is the content of the status ConfigMap.
type Record struct {
	Pass struct {
		Started  time.Time `json:"started"`
		Duration string    `json:"duration"`
		Error    string    `json:"error,omitempty"`
		Warnings []string  `json:"warnings,omitempty"`
	} `json:"pass"`
	Grant struct {
		Namespace   string           `json:"namespace"`
		Name        string           `json:"name"`
		UID         types.UID        `json:"uid,omitempty"`
		LastRotated *time.Time       `json:"lastRotated,omitempty"`
		Budget      reconcile.Budget `json:"budget"`
	} `json:"grant"`
	// Transport is how the pass reached the spokes (absent in records of
	// older versions).
	Transport *TransportRecord `json:"transport,omitempty"`
	// Reduced, when set, says what the stored record left out to fit a
	// ConfigMap (see Encode); Summary still counts every spoke.
	Reduced string                    `json:"reduced,omitempty"`
	Spokes  map[string]*SpokeRecord   `json:"spokes"`
	Summary map[reconcile.Outcome]int `json:"summary"`
	// Services are, per spoke, the hub Listeners of its catalog services and
	// whether each has a matching Connector (see ServiceRecord), as observed
	// at ServicesObserved. Absent when the hub Listeners could not be listed
	// (older records, or RBAC without them).
	Services         map[string][]ServiceRecord `json:"services,omitempty"`
	ServicesObserved *time.Time                 `json:"servicesObserved,omitempty"`
}

// Linked reports whether every recorded spoke is linked.
func (r *Record) Linked() bool {
	if r.Pass.Error != "" {
		return false
	}
	for _, s := range r.Spokes {
		if s.State != reconcile.OutcomeLinked && s.State != reconcile.OutcomeSkipped {
			return false
		}
	}
	return true
}

// Names returns the recorded spokes in order.
func (r *Record) Names() []string {
	out := make([]string, 0, len(r.Spokes))
	for n := range r.Spokes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Merge builds the record of res on top of the previous record (which may be
// nil), keeping each spoke's last push, the time it entered its state, and
// its last error while that error still applies.
func Merge(prev *Record, res *reconcile.Result) *Record {
	r := &Record{Spokes: map[string]*SpokeRecord{}, Summary: res.Counts()}
	r.Pass.Started = res.Started
	r.Pass.Duration = res.Duration.Round(time.Millisecond).String()
	r.Pass.Error = res.Error
	r.Pass.Warnings = res.Warnings
	r.Grant.Namespace, r.Grant.Name, r.Grant.UID = res.Grant.Namespace, res.Grant.Name, res.Grant.UID
	r.Grant.Budget = res.Budget
	if prev != nil {
		r.Grant.LastRotated = prev.Grant.LastRotated
	}
	if res.Grant.Rotated {
		t := res.Started
		r.Grant.LastRotated = &t
	}
	if res.Error != "" && prev != nil {
		// A failed pass: keep what was known of the spokes it did not get
		// to, and record those it did (a push is recorded whatever happens
		// after it).
		for n, s := range prev.Spokes {
			r.Spokes[n] = s
		}
		if r.Grant.UID == "" {
			r.Grant.UID, r.Grant.Budget = prev.Grant.UID, prev.Grant.Budget
		}
	}
	for _, c := range res.Changes {
		t := res.Started
		s := &SpokeRecord{State: c.Outcome, Action: c.Action, Reason: c.Reason, Recorded: &t, Since: &t}
		if p := prevSpoke(prev, c.Cluster); p != nil {
			s.LastPush = p.LastPush
			if p.State == c.Outcome && p.Since != nil {
				s.Since = p.Since
			}
			// An error belongs to the grant that produced it (errors of
			// older records carry no grant and are kept).
			if p.LastErrorGrant == "" || p.LastErrorGrant == r.Grant.UID {
				s.LastError, s.LastErrorTime, s.LastErrorGrant = p.LastError, p.LastErrorTime, p.LastErrorGrant
			}
		}
		switch c.Outcome {
		case reconcile.OutcomePushed:
			// A successful push supersedes the errors of earlier pushes.
			s.LastPush = &t
			s.LastError, s.LastErrorTime, s.LastErrorGrant = "", nil, ""
		case reconcile.OutcomeLinked:
			s.LastError, s.LastErrorTime, s.LastErrorGrant = "", nil, ""
		}
		if c.Error != "" {
			s.LastError, s.LastErrorTime, s.LastErrorGrant = c.Error, &t, r.Grant.UID
		} else if c.Outcome == reconcile.OutcomeBlocked {
			s.LastError, s.LastErrorTime, s.LastErrorGrant = c.Reason, &t, r.Grant.UID
		}
		r.Spokes[c.Cluster] = s
	}
	if res.Error != "" && prev != nil {
		r.Summary = map[reconcile.Outcome]int{}
		for _, s := range r.Spokes {
			r.Summary[s.State]++
		}
	}
	return r
}

func prevSpoke(prev *Record, name string) *SpokeRecord {
	if prev == nil {
		return nil
	}
	return prev.Spokes[name]
}

// StatusStore reads and writes the status ConfigMap.
type StatusStore struct {
	ConfigMaps typedcorev1.ConfigMapInterface
	Name       string
}

// Read returns the record, or nil when there is none yet.
func (s StatusStore) Read(ctx context.Context) (*Record, error) {
	cm, err := s.ConfigMaps.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading status ConfigMap %s: %w", s.Name, err)
	}
	r, err := Decode([]byte(cm.Data[StatusKey]))
	if err != nil {
		return nil, fmt.Errorf("status ConfigMap %s: key %s is not a vanlink status record this version can read: %w", s.Name, StatusKey, err)
	}
	return r, nil
}

// Write stores the record (see Encode), creating the ConfigMap on first use.
func (s StatusStore) Write(ctx context.Context, r *Record) error {
	data, err := Encode(r)
	if err != nil {
		return fmt.Errorf("status ConfigMap %s: %w", s.Name, err)
	}
	cm, err := s.ConfigMaps.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "vanlink", "app.kubernetes.io/component": "token-sync"}},
			Data:       map[string]string{StatusKey: string(data)},
		}
		_, err = s.ConfigMaps.Create(ctx, cm, metav1.CreateOptions{})
		return wrap(err, "creating", s.Name)
	}
	if err != nil {
		return wrap(err, "reading", s.Name)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[StatusKey] = string(data)
	_, err = s.ConfigMaps.Update(ctx, cm, metav1.UpdateOptions{})
	return wrap(err, "updating", s.Name)
}

func wrap(err error, verb, name string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s status ConfigMap %s: %w", verb, name, err)
}
