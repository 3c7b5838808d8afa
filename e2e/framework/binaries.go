package framework

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables that point the test bed at its binaries.
const (
	// BinDirEnv names a folder holding kube-apiserver and etcd.
	BinDirEnv = "VANLINK_TEST_BIN_DIR"
	// envtestAssetsEnv is honoured too, so an envtest setup can be reused.
	envtestAssetsEnv = "KUBEBUILDER_ASSETS"
)

// ErrBinariesMissing is returned when kube-apiserver or etcd cannot be found.
var ErrBinariesMissing = errors.New("test-bed binaries not found (run `make tools`)")

// Binaries are the paths of the programs the test bed runs.
type Binaries struct {
	KubeAPIServer string
	Etcd          string
}

// FindBinaries looks for kube-apiserver and etcd in $VANLINK_TEST_BIN_DIR,
// $KUBEBUILDER_ASSETS, then bin/ at the root of the vanlink repository.
func FindBinaries() (Binaries, error) {
	var dirs []string
	for _, env := range []string{BinDirEnv, envtestAssetsEnv} {
		if d := os.Getenv(env); d != "" {
			dirs = append(dirs, d)
		}
	}
	if root, err := RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin"))
	}
	for _, d := range dirs {
		b := Binaries{KubeAPIServer: filepath.Join(d, "kube-apiserver"), Etcd: filepath.Join(d, "etcd")}
		if isExecutable(b.KubeAPIServer) && isExecutable(b.Etcd) {
			return b, nil
		}
	}
	return Binaries{}, fmt.Errorf("%w: looked in %v", ErrBinariesMissing, dirs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// RepoRoot returns the root of the vanlink checkout containing the working
// directory, found by walking up to the go.mod of module github.com/vanlink/vanlink.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isVanlinkModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the vanlink repository (no go.mod of github.com/vanlink/vanlink above the working directory)")
		}
		dir = parent
	}
}

func isVanlinkModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if strings.TrimSpace(line) == "module github.com/vanlink/vanlink" {
			return true
		}
	}
	return false
}
