package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	tests := map[string]struct {
		linked    string
		buildInfo *debug.BuildInfo
		want      string
		wantRev   string
	}{
		"the version set at link time wins over build info": {
			linked:    "v1.2.3",
			buildInfo: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.1"}},
			want:      "v1.2.3",
		},
		"build info supplies the module version when nothing is linked": {
			buildInfo: &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}},
			want:      "v0.4.0",
		},
		"a development build is reported as devel with its revision": {
			buildInfo: &debug.BuildInfo{
				Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "0123456789abcdef0123"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			want:    "devel",
			wantRev: "0123456789ab-dirty",
		},
		"no build info at all is reported as unknown": {
			want: "unknown",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			oldV, oldR := Version, readBuildInfo
			t.Cleanup(func() { Version, readBuildInfo = oldV, oldR })
			Version = tc.linked
			readBuildInfo = func() (*debug.BuildInfo, bool) { return tc.buildInfo, tc.buildInfo != nil }
			got := Get()
			if got.Version != tc.want {
				t.Fatalf("expected version %q, got %q", tc.want, got.Version)
			}
			if tc.wantRev != "" && !strings.Contains(got.String(), tc.wantRev) {
				t.Fatalf("expected %q in %q", tc.wantRev, got.String())
			}
		})
	}
}
