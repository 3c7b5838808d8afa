//go:build e2e

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemoShowsBothSpokesLinked runs the demo as `make demo` does (but
// stopping at once) and checks what it prints.
func TestDemoShowsBothSpokesLinked(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, true); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"SIMULATED: the Skupper controller and router",
		"ACM's work-manager agent",
		"kafka-east-tst.service-interconnect.svc.cluster.local:9092",
		"prometheus-west.service-interconnect.svc.cluster.local:9091",
		"==> stopping the clusters",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the demo output lacks %q", want)
		}
	}
	hook := lineWith(s, "$ vanlink sync --policy=postsync")
	if hook == "" || strings.Count(hook, "--log-format") != 1 || strings.Contains(hook, "--kubeconfig") {
		t.Errorf("the demo prints the hook command as the chart's Job runs it (one --log-format, no local flags), got %q", hook)
	}
	status := s[strings.Index(s, "$ vanlink status"):]
	for _, spoke := range []string{"east", "west"} {
		line := lineWith(status, spoke+" ")
		if !strings.Contains(line, "linked") {
			t.Errorf("vanlink status must show %s linked, got %q", spoke, line)
		}
	}
	if t.Failed() {
		t.Log(s)
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
