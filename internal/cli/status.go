package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// Exit codes of `vanlink status`.
const (
	statusLinked    = 0
	statusError     = 1
	statusNotLinked = 2
)

type statusOptions struct {
	global *globalOptions
	pass   passOptions
	live   bool
	output string
}

func newStatusCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	o := &statusOptions{global: g}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show what the last pass recorded: each spoke's state, last push, last error, the grant's budget",
		Long: `status reads the status ConfigMap the last pass wrote on the hub: per spoke its
state, last push and last error, and the grant's redemptions left and expiry.
--live observes the spokes now instead (a dry-run pass that writes nothing),
reaching them as the last recorded pass did (its --transport and how it chose
the spokes: --cluster-selector, --placement, --credentials-namespace,
--credentials-selector); flags given on the command line win.

SINCE is how long each spoke has been in its state, LAST PUSH how long ago a
token was last pushed to it. LAST ERROR is the error of the last failed push
or prune; a later successful push or link clears it, and so does a new grant.

REACHABLE counts the spoke's catalog services that hub clients reach, and the
table below it lists them: per service its hub Listener, whether that
Listener has a matching Connector (Skupper's hasMatchingConnector: a Connector
with its routing key is active somewhere in the network), and for per-pod
Listeners (Kafka brokers) how many have one; -o wide lists every Listener.
It is read from the hub Listeners now when they can be read, else taken from
the last pass's record (JSON: services, servicesObserved).

Exit code: 0 when every spoke is linked, 2 when some are not, 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd, streams) },
	}
	o.pass.addObserveFlags(c.Flags())
	c.Flags().BoolVar(&o.live, "live", false, "observe the spokes now (a dry-run pass) instead of reading the last record")
	c.Flags().VarP(newEnum(&o.output, "table", outputFormats...), "output", "o", "output format: table, wide (more columns), json or yaml")
	return c
}

func (o *statusOptions) Run(cmd *cobra.Command, streams IOStreams) error {
	defaultNamespace(cmd, o.global, &o.pass.namespace)
	c, err := connect(o.global, o.pass.Validate)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	store := report.StatusStore{ConfigMaps: c.kube.CoreV1().ConfigMaps(o.pass.namespace), Name: o.pass.statusConfigMap}
	rec, rerr := store.Read(ctx)
	if o.live {
		return o.runLive(cmd, streams, c, rec, rerr)
	}
	if rerr != nil {
		return &ExitError{Code: statusError, Err: c.explain(rerr)}
	}
	if rec == nil {
		return &ExitError{Code: statusError, Err: fmt.Errorf("no status record: ConfigMap %s/%s does not exist yet (has a pass run? try --live)", o.pass.namespace, o.pass.statusConfigMap)}
	}
	// The services' reachability as it is now, when the hub Listeners can be
	// read; otherwise as the last pass observed it (servicesObserved says when).
	if err := report.ObserveReachability(ctx, rec, nil, c.dyn.Resource(skupper.ListenersGVR).Namespace(o.pass.namespace), time.Now()); err != nil {
		o.global.logger(streams.ErrOut).Debug("showing the reachability the last pass recorded", "err", c.explain(err))
	}
	if err := printRecord(streams.Out, o.output, rec, time.Now()); err != nil {
		return err
	}
	if !rec.Linked() {
		return &ExitError{Code: statusNotLinked}
	}
	return nil
}

// runLive observes the spokes now with a dry-run pass, reaching them the way
// the last recorded pass did unless flags say otherwise.
func (o *statusOptions) runLive(cmd *cobra.Command, streams IOStreams, c *clients, rec *report.Record, rerr error) error {
	log := o.global.logger(streams.ErrOut)
	switch {
	case rerr != nil:
		if e := c.explain(rerr); e != rerr || cmd.Context().Err() != nil {
			return &ExitError{Code: statusError, Err: e}
		}
		log.Warn("could not read the status record; observing with the flags given", "err", c.explain(rerr))
	case rec != nil && rec.Transport != nil:
		o.pass.useRecorded(rec.Transport, cmd.Flags().Changed)
		if err := o.pass.Validate(); err != nil {
			return &ExitError{Code: statusError, Err: fmt.Errorf("the transport of the last recorded pass with these flags: %w", err)}
		}
		log.Debug("observing the spokes as the last recorded pass did", "transport", o.pass.transport)
	}
	e := o.pass.engine(c, log, true)
	res, err := e.Run(cmd.Context())
	if res != nil && !(startedNothing(res) && err != nil && (o.output == "table" || o.output == "wide")) {
		if perr := printResult(streams.Out, o.output, res); perr != nil {
			return perr
		}
	}
	if err != nil {
		return &ExitError{Code: statusError, Err: c.explain(err)}
	}
	if !res.AllLinked() {
		return &ExitError{Code: statusNotLinked}
	}
	return nil
}
