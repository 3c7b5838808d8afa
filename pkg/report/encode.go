package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

// The status record must fit one ConfigMap (1 MiB, less its metadata) at
// fleet scale. It is stored compact (version 2): spokes whose records are
// equal share one entry that lists their names, so a fleet of linked or
// pending spokes costs little more than their names. When even that does not
// fit within MaxRecordBytes, the record is reduced, in steps, until it does:
//
//  1. linked spokes keep only their state (their SINCE and LAST PUSH go);
//  2. reasons and errors are cut to maxTextBytes;
//  3. every spoke keeps only its state and action.
//
// The reachability of the catalog services (Record.Services) goes first: a
// record that does not fit keeps only the hub Listeners without a matching
// Connector (what a user looks for) at every step, and none at step 3.
//
// Spokes that are not linked keep their state, reason and LAST ERROR through
// step 2; the summary always counts every spoke. Record.Reduced says which
// step was taken. Records written by older versions (version 1: one entry per
// spoke) are still read.
const (
	// RecordVersion is the version of the encoding Write stores.
	RecordVersion = 2
	// MaxRecordBytes bounds the encoded record, below a ConfigMap's 1 MiB.
	MaxRecordBytes = 900 * 1024
	maxTextBytes   = 256
)

// Reduction steps, as Record.Reduced names them.
const (
	ReducedLinked = "linked spokes keep only their state"
	ReducedText   = "linked spokes keep only their state; reasons and errors are shortened"
	ReducedAll    = "every spoke keeps only its state"
	// ReducedServices is added to Record.Reduced when the reachability of
	// the catalog services was reduced too.
	ReducedServices = "services list only hub Listeners without a matching Connector"
	// DroppedServices is added to Record.Reduced when it was left out.
	DroppedServices = "the services' reachability is left out"
)

// group is the stored form of the spokes that share one record.
type group struct {
	SpokeRecord
	Clusters []string `json:"clusters"`
}

// stored is the version-2 form of Record.
type stored struct {
	Version   int                       `json:"version"`
	Reduced   string                    `json:"reduced,omitempty"`
	Pass      json.RawMessage           `json:"pass"`
	Grant     json.RawMessage           `json:"grant"`
	Transport *TransportRecord          `json:"transport,omitempty"`
	Summary   map[reconcile.Outcome]int `json:"summary"`
	Groups    []group                   `json:"groups"`
	// Services and ServicesObserved are Record's, unchanged or reduced.
	Services         map[string][]ServiceRecord `json:"services,omitempty"`
	ServicesObserved *time.Time                 `json:"servicesObserved,omitempty"`
}

// groupKey is what spokes must share to be stored together.
type groupKey struct {
	state                              reconcile.Outcome
	action                             reconcile.Action
	reason, lastError                  string
	recorded, since, lastPush, errTime time.Time
	errGrant                           types.UID
}

func keyOf(s *SpokeRecord) groupKey {
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.UTC()
	}
	return groupKey{s.State, s.Action, s.Reason, s.LastError, t(s.Recorded), t(s.Since), t(s.LastPush), t(s.LastErrorTime), s.LastErrorGrant}
}

// Encode returns the stored form of r: compact, grouped, and reduced as far
// as needed to fit within MaxRecordBytes.
func Encode(r *Record) ([]byte, error) {
	var data []byte
	for _, step := range []string{"", ReducedServices, ReducedLinked, ReducedText, ReducedAll} {
		var err error
		if data, err = encodeAs(r, step); err != nil {
			return nil, err
		}
		if len(data) <= MaxRecordBytes {
			return data, nil
		}
	}
	return nil, fmt.Errorf("the status record of %d spokes needs %d bytes even with every spoke reduced to its state, more than the %d a ConfigMap can hold", len(r.Spokes), len(data), MaxRecordBytes)
}

func encodeAs(r *Record, step string) ([]byte, error) {
	pass, err := json.Marshal(r.Pass)
	if err != nil {
		return nil, err
	}
	grant, err := json.Marshal(r.Grant)
	if err != nil {
		return nil, err
	}
	s := stored{Version: RecordVersion, Pass: pass, Grant: grant, Transport: r.Transport, Summary: r.Summary,
		Services: r.Services, ServicesObserved: r.ServicesObserved}
	var notes []string
	if step != "" && step != ReducedServices {
		notes = append(notes, step)
	}
	if step != "" && len(r.Services) > 0 {
		if step == ReducedAll {
			s.Services, s.ServicesObserved = nil, nil
			notes = append(notes, DroppedServices)
		} else {
			s.Services = unmatched(r.Services)
			notes = append(notes, ReducedServices)
		}
	}
	s.Reduced = strings.Join(notes, "; ")
	if step == ReducedServices {
		// Only the services were reduced: the spokes are as recorded.
		step = ""
	}
	if s.Reduced == "" {
		s.Reduced = r.Reduced
	}
	byKey := map[groupKey]int{}
	for _, name := range r.Names() {
		sp := reduce(*r.Spokes[name], step)
		k := keyOf(&sp)
		i, ok := byKey[k]
		if !ok {
			i = len(s.Groups)
			byKey[k] = i
			s.Groups = append(s.Groups, group{SpokeRecord: sp})
		}
		s.Groups[i].Clusters = append(s.Groups[i].Clusters, name)
	}
	return json.Marshal(s)
}

// unmatched keeps, per spoke, the Listeners without a matching Connector.
func unmatched(in map[string][]ServiceRecord) map[string][]ServiceRecord {
	out := map[string][]ServiceRecord{}
	for spoke, recs := range in {
		for _, rec := range recs {
			if !rec.Matched {
				out[spoke] = append(out[spoke], rec)
			}
		}
	}
	return out
}

// reduce returns what a reduction step keeps of a spoke's record.
func reduce(s SpokeRecord, step string) SpokeRecord {
	switch step {
	case "":
		return s
	case ReducedAll:
		return SpokeRecord{State: s.State, Action: s.Action}
	}
	if s.State == reconcile.OutcomeLinked {
		return SpokeRecord{State: s.State, Action: s.Action, Reason: s.Reason}
	}
	if step == ReducedText {
		s.Reason, s.LastError = cut(s.Reason), cut(s.LastError)
	}
	return s
}

func cut(s string) string {
	if len(s) <= maxTextBytes {
		return s
	}
	return s[:maxTextBytes] + "…"
}

// Decode reads a stored record of any version this vanlink knows.
func Decode(data []byte) (*Record, error) {
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, err
	}
	switch probe.Version {
	case 0, 1:
		// Version 1 has no version field: one entry per spoke.
		var r Record
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, err
		}
		return &r, nil
	case RecordVersion:
	default:
		return nil, fmt.Errorf("the record has version %d; this vanlink reads versions 1 to %d: use a newer vanlink", probe.Version, RecordVersion)
	}
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	r := &Record{Transport: s.Transport, Summary: s.Summary, Reduced: s.Reduced, Spokes: map[string]*SpokeRecord{},
		Services: s.Services, ServicesObserved: s.ServicesObserved}
	if err := json.Unmarshal(s.Pass, &r.Pass); err != nil {
		return nil, fmt.Errorf("pass: %w", err)
	}
	if err := json.Unmarshal(s.Grant, &r.Grant); err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	for _, g := range s.Groups {
		for _, name := range g.Clusters {
			sp := g.SpokeRecord
			r.Spokes[name] = &sp
		}
	}
	return r, nil
}
