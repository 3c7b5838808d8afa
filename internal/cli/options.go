package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	kubeconfig string
	context    string
	verbosity  int
	logFormat  string
	qps        float32
	burst      int
	// requestTimeout bounds every request to the hub API server.
	requestTimeout requestTimeout
}

func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "path of the hub kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&o.context, "context", "", "kubeconfig context to use")
	fs.IntVarP(&o.verbosity, "v", "v", 0, "log verbosity: 0 info, 1 or more debug")
	fs.Var(newEnum(&o.logFormat, "auto", "auto", "text", "json"), "log-format", "log format: auto (JSON in a pod, text elsewhere), text or json")
	fs.Float32Var(&o.qps, "kube-api-qps", 500, "client-side limit of requests per second to the hub API server (the server's priority and fairness still applies)")
	fs.IntVar(&o.burst, "kube-api-burst", 1000, "client-side burst of requests to the hub API server")
	o.requestTimeout = requestTimeout(30 * time.Second)
	fs.Var(&o.requestTimeout, "request-timeout", "how long to wait for each answer of the hub API server before giving up, as kubectl's flag: a duration with a unit (30s, 1m) or a number of seconds; 0 (kubectl's no timeout) is refused, so no command can hang on a server that does not answer")
}

// requestTimeout is kubectl's --request-timeout: a duration with a unit, or
// a whole number of seconds. Unlike kubectl, 0 (no timeout) is refused.
type requestTimeout time.Duration

func (r *requestTimeout) String() string { return time.Duration(*r).String() }
func (r *requestTimeout) Type() string   { return "duration" }
func (r *requestTimeout) Set(s string) error {
	var d time.Duration
	if n, err := strconv.Atoi(s); err == nil {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return fmt.Errorf("want a duration with a unit (30s, 1m) or a number of seconds")
	}
	if d <= 0 {
		return fmt.Errorf("must be positive: vanlink bounds every request to the hub API server (0, kubectl's no timeout, is not offered)")
	}
	*r = requestTimeout(d)
	return nil
}

func (o *globalOptions) Validate() error {
	switch o.logFormat {
	case "auto", "text", "json":
	default:
		return flagError("--log-format", o.logFormat, "must be auto, text or json")
	}
	if o.verbosity < 0 {
		return flagError("-v", o.verbosity, "must be 0 or more")
	}
	if o.qps <= 0 {
		return flagError("--kube-api-qps", o.qps, "must be positive")
	}
	if o.burst < 1 {
		return flagError("--kube-api-burst", o.burst, "must be at least 1")
	}
	return nil
}

// logger builds the structured logger: progress goes to errOut.
func (o *globalOptions) logger(errOut io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if o.verbosity > 0 {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	format := o.logFormat
	if format == "auto" {
		format = "text"
		if os.Getenv("KUBERNETES_SERVICE_HOST") != "" && !isTerminal(errOut) {
			format = "json"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(errOut, hopts))
	}
	return slog.New(slog.NewTextHandler(errOut, hopts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// restConfig loads the hub connection the way kubectl does.
func (o *globalOptions) restConfig() (*rest.Config, error) {
	cfg, err := o.loader().ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, o.noKubeconfig(err)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the hub kubeconfig: %w", err)
	}
	cfg.UserAgent = "vanlink"
	cfg.QPS, cfg.Burst = o.qps, o.burst
	// Every request, watches included (their informers re-open them), is
	// bounded: a server that accepts connections and never answers ends the
	// command with an error naming it instead of hanging.
	cfg.Timeout = time.Duration(o.requestTimeout)
	return cfg, nil
}

// enumValue is a string flag restricted to a set, validated when set.
type enumValue struct {
	value   *string
	allowed []string
}

func newEnum(p *string, def string, allowed ...string) *enumValue {
	*p = def
	return &enumValue{value: p, allowed: allowed}
}

func (e *enumValue) String() string { return *e.value }
func (e *enumValue) Type() string   { return strings.Join(e.allowed, "|") }
func (e *enumValue) Set(s string) error {
	for _, a := range e.allowed {
		if s == a {
			*e.value = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(e.allowed, ", "))
}
