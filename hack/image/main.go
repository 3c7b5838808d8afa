// Command image builds the vanlink container image without Docker (make
// image-archive): an OCI image layout in a tar file, the same image as the
// Dockerfile's. See internal/ociimage.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/vanlink/vanlink/internal/ociimage"
)

func main() {
	out := flag.String("o", "_output/vanlink-image.tar", "archive to write")
	version := flag.String("version", "devel", "image version (label and tag)")
	revision := flag.String("revision", "", "source revision (label)")
	repo := flag.String("repository", "ghcr.io/vanlink/vanlink", "image repository (the name in the archive)")
	arch := flag.String("arch", runtime.GOARCH, "target architecture")
	flag.Parse()
	if err := run(*out, *version, *revision, *repo, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(out, version, revision, repo, arch string) error {
	ref := repo + ":" + version
	img, err := ociimage.Build(".", "./cmd/vanlink", ref, out, ociimage.Options{Version: version, Revision: revision, Arch: arch, Created: time.Unix(0, 0).UTC()})
	if err != nil {
		return err
	}
	d, _ := img.Digest()
	fmt.Printf("wrote %s: %s (%s), load with: kind load image-archive %s\n", out, ref, d, out)
	return nil
}
