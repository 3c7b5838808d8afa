// Package version reports the version of the vanlink binary.
//
// Release builds set Version through the linker:
//
//	go build -ldflags "-X github.com/vanlink/vanlink/pkg/version.Version=v0.1.0" ./cmd/vanlink
//
// Other builds fall back to the module version and VCS data recorded by the
// Go toolchain in the binary's build info.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time; empty means "derive from build info".
var Version = ""

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// readBuildInfo is replaced in tests.
var readBuildInfo = debug.ReadBuildInfo

// Get returns the version information of the running binary.
func Get() Info {
	info := Info{
		Version:   Version,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := readBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "unknown"
		}
		return info
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	return info
}

// String renders the information on one line.
func (i Info) String() string {
	s := fmt.Sprintf("vanlink %s (%s, %s)", i.Version, i.GoVersion, i.Platform)
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if i.Modified {
			rev += "-dirty"
		}
		s += " revision " + rev
	}
	return s
}
