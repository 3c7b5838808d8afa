package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBadFlagsFailWithAClearMessage(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"an unknown fail-on policy":         {[]string{"sync", "--fail-on", "sometimes"}, `invalid argument "sometimes" for "--fail-on" flag: must be one of error, pending, never`},
		"an unknown job policy":             {[]string{"sync", "--policy", "hourly"}, `"--policy" flag: must be one of postsync, cron`},
		"a placement without namespace":     {[]string{"sync", "--placement", "vanlink-spokes"}, `--placement "vanlink-spokes": want NAMESPACE/NAME`},
		"a selector and a placement":        {[]string{"sync", "--placement", "a/b", "--cluster-selector", "x=y"}, "set one"},
		"a malformed selector":              {[]string{"sync", "--cluster-selector", "region in (east"}, `--cluster-selector "region in (east"`},
		"zero concurrency":                  {[]string{"sync", "--concurrency", "0"}, "--concurrency 0: must be at least 1"},
		"a grant name that is not DNS-1123": {[]string{"sync", "--grant", "Spoke_Link"}, `--grant "Spoke_Link"`},
		"a negative grant timeout":          {[]string{"sync", "--grant-timeout", "-1m"}, `--grant-timeout -1m0s: must be positive`},
		"an invalid schedule":               {[]string{"run", "--schedule", "61 * * * *"}, `schedule "61 * * * *"`},
		"an unknown output format":          {[]string{"status", "-o", "yaml"}, `must be one of table, json`},
		"a token without cluster":           {[]string{"token"}, "--cluster is required"},
		"an unknown log format":             {[]string{"sync", "--log-format", "xml"}, `--log-format "xml"`},
		"an unknown transport":              {[]string{"sync", "--transport", "ssh"}, `"--transport" flag: must be one of acm`},
		"no request timeout":                {[]string{"status", "--request-timeout", "0"}, `invalid argument "0" for "--request-timeout" flag: must be positive`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "error:"), "the error is printed once")
		})
	}
}
