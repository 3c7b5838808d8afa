package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
)

// The demo prints the hook command exactly as the hub chart's Job runs it:
// the Job's container args, read here from the rendered chart on their own.
func TestTheHookCommandIsTheChartJobs(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	ctx := context.Background()
	hook, cron, err := jobArgs(ctx, root, hubOptions(root))
	require.NoError(t, err)

	rendered, err := charts.Render(ctx, filepath.Join(root, charts.HubChart), hubOptions(root))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		kind string
		path []string
		got  []string
	}{
		"the PostSync hook Job": {kind: "Job", path: []string{"spec", "template", "spec", "containers"}, got: hook},
		"the CronJob":           {kind: "CronJob", path: []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}, got: cron},
	} {
		t.Run(name, func(t *testing.T) {
			objs := rendered.Find(tc.kind)
			require.Len(t, objs, 1, "the chart renders one %s", tc.kind)
			containers, _, err := unstructured.NestedSlice(objs[0].Object, tc.path...)
			require.NoError(t, err)
			require.NotEmpty(t, containers)
			want, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			require.NoError(t, err)
			require.Equal(t, want, tc.got, "the demo runs the %s's args", tc.kind)

			line := commandLine(tc.got)
			require.Equal(t, "vanlink "+strings.Join(want, " "), line, "the printed command is the args as they are, nothing added")
			seen := map[string]bool{}
			for _, a := range strings.Fields(line)[1:] {
				flag, _, _ := strings.Cut(a, "=")
				if strings.HasPrefix(flag, "-") {
					require.False(t, seen[flag], "%s appears once in %q", flag, line)
					seen[flag] = true
				}
			}
			require.True(t, seen["--log-format"], "the chart's own --log-format is shown")
		})
	}
}

func TestCommandLineQuotesWhatAShellWouldSplit(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"plain flags stay as they are":     {args: []string{"sync", "--namespace=service-interconnect", "-v=2", "--placement=ns/p"}, want: "vanlink sync --namespace=service-interconnect -v=2 --placement=ns/p"},
		"a selector with blanks is quoted": {args: []string{"--cluster-selector=env in (prod,tst)"}, want: "vanlink '--cluster-selector=env in (prod,tst)'"},
		"a quote inside is escaped":        {args: []string{"it's"}, want: `vanlink 'it'\''s'`},
		"an empty argument shows":          {args: []string{""}, want: "vanlink ''"},
		"a negation is quoted":             {args: []string{"--cluster-selector=!canary"}, want: "vanlink '--cluster-selector=!canary'"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, commandLine(tc.args))
		})
	}
}
