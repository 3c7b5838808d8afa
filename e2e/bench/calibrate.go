package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// calibrationNamespace holds the calibration's views: no spoke is served
// there, so the agent watches them but never answers.
const calibrationNamespace = "vanlink-bench-calibration"

// hubWriteCapacity measures how many writes per second the hub sustains for
// objects like vanlink's: workers each create a ManagedClusterView, write its
// status with a Link result (as the agent does) and delete it, as fast as
// the hub answers, for the given duration. It is the hub's ceiling on this
// machine, measured apart from vanlink.
func hubWriteCapacity(ctx context.Context, hub *framework.Cluster, workers int, d time.Duration) (float64, error) {
	if err := fixtures.Namespace(ctx, hub.Kube(), calibrationNamespace); err != nil {
		return 0, err
	}
	client := hub.Dynamic().Resource(acm.ViewsGVR).Namespace(calibrationNamespace)
	var writes atomic.Int64
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := 0; cctx.Err() == nil; i++ {
				v := calibrationView(fmt.Sprintf("calibration-%d-%d", w, i))
				created, err := client.Create(ctx, v, metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("calibrating the hub: %w", err)
				}
				created.Object["status"] = v.Object["status"]
				if _, err := client.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("calibrating the hub: %w", err)
				}
				if err := client.Delete(ctx, created.GetName(), metav1.DeleteOptions{}); err != nil {
					return fmt.Errorf("calibrating the hub: %w", err)
				}
				writes.Add(3)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(writes.Load()) / time.Since(start).Seconds(), nil
}

// calibrationView is a view shaped like vanlink's Link view once processed.
func calibrationView(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": acm.ViewsGVR.GroupVersion().String(), "kind": "ManagedClusterView",
		"metadata": map[string]any{"name": name, "namespace": calibrationNamespace},
		"spec": map[string]any{"scope": map[string]any{"apiGroup": "skupper.io", "version": "v2alpha1", "kind": "Link",
			"resource": "links", "name": "hub-link", "namespace": ns, "updateIntervalSeconds": int64(300)}},
		"status": map[string]any{
			"conditions": []any{map[string]any{"type": "Processing", "status": "True", "reason": "GetResourceProcessing",
				"message": "Watching resources successfully", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
			"result": map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
				"metadata": map[string]any{"name": "hub-link", "namespace": ns},
				"spec": map[string]any{"endpoints": []any{
					map[string]any{"name": "inter-router", "host": "skupper-router.hub.example", "port": "55671"},
					map[string]any{"name": "edge", "host": "skupper-router.hub.example", "port": "45671"}},
					"tlsCredentials": "hub-link", "cost": int64(1)},
				"status": map[string]any{"status": "Ready", "message": "OK"}},
		},
	}}
}
