package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
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
	dir, err := os.MkdirTemp("", "vanlink-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "vanlink")
	// A static binary: no cgo, so it runs on an image without libc.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/vanlink/vanlink/pkg/version.Version="+version, "-o", bin, "./cmd/vanlink")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building a static vanlink: %w", err)
	}
	ref := repo + ":" + version
	img, err := Image(Options{Binary: bin, Version: version, Revision: revision, Source: "https://github.com/vanlink/vanlink", Arch: arch, Created: time.Unix(0, 0).UTC(), Ref: ref})
	if err != nil {
		return err
	}
	if err := WriteArchive(img, ref, out); err != nil {
		return err
	}
	d, _ := img.Digest()
	fmt.Printf("wrote %s: %s (%s), load with: kind load image-archive %s\n", out, ref, d, out)
	return nil
}
