//go:build integration

package framework_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/e2e/framework"
)

// TestResetBringsTheBedBack: what a scenario makes (namespaces and what is
// in them, cluster-scoped objects, objects with finalizers no controller of
// the bed removes, a CRD of its own with objects) is gone after Reset, and
// what the bed held before is untouched; a bed that changed in a way Reset
// cannot undo is refused with ErrNotResettable.
func TestResetBringsTheBedBack(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{"east"}})
	ctx := t.Context()
	require.NoError(t, env.Checkpoint(ctx))
	before := map[string]string{}
	for _, c := range env.All() {
		ns, err := c.Kube().CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		require.NoError(t, err)
		before[c.Name] = string(ns.UID)
	}

	makeObjects := func(t *testing.T) {
		for _, c := range env.All() {
			kc := c.Kube()
			_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "service-interconnect"}}, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = kc.CoreV1().ConfigMaps("service-interconnect").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held",
				Finalizers: []string{"example.com/never-removed"}}}, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = kc.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1.hub.v1"}}, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = kc.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "vanlink-sync"}}, metav1.CreateOptions{})
			require.NoError(t, err)
			site := obj("skupper.io/v2alpha1", "Site", "hub", map[string]any{"linkAccess": "default"})
			site.SetNamespace("service-interconnect")
			site.SetFinalizers([]string{"example.com/never-removed"})
			_, err = c.Dynamic().Resource(skupperGVR("sites")).Namespace("service-interconnect").Create(ctx, site, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		east := env.Cluster("east")
		require.NoError(t, framework.InstallCRDs(ctx, east.Config, []*apiextensionsv1.CustomResourceDefinition{framework.SchemalessCRD(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, "Widget")}))
		_, err := east.Dynamic().Resource(gvr("example.com", "v1", "widgets")).Namespace("default").Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w", "finalizers": []any{"example.com/never-removed"}}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	requireClean := func(t *testing.T) {
		for _, c := range env.All() {
			kc := c.Kube()
			_, err := kc.CoreV1().Namespaces().Get(ctx, "service-interconnect", metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "%s: the namespace is gone: %v", c.Name, err)
			_, err = kc.CoreV1().Secrets("default").Get(ctx, "sh.helm.release.v1.hub.v1", metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "%s: the Secret is gone: %v", c.Name, err)
			_, err = kc.RbacV1().ClusterRoles().Get(ctx, "vanlink-sync", metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "%s: the ClusterRole is gone: %v", c.Name, err)
			ns, err := kc.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, before[c.Name], string(ns.UID), "%s: the default namespace is the bed's", c.Name)
			_, err = kc.RbacV1().ClusterRoles().Get(ctx, "cluster-admin", metav1.GetOptions{})
			require.NoError(t, err, "%s: the bootstrap RBAC stays", c.Name)
			_, err = c.Dynamic().Resource(skupperGVR("sites")).List(ctx, metav1.ListOptions{})
			require.NoError(t, err, "%s: the bed's CRDs stay", c.Name)
		}
		_, err := env.Cluster("east").Dynamic().Resource(gvr("example.com", "v1", "widgets")).List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsNotFound(err), "the scenario's CRD is gone: %v", err)
	}

	t.Run("what a scenario made is deleted, the bed's objects stay", func(t *testing.T) {
		makeObjects(t)
		require.NoError(t, env.Reset(ctx))
		requireClean(t)
	})
	t.Run("the same names can be made again after a reset", func(t *testing.T) {
		makeObjects(t)
		require.NoError(t, env.Reset(ctx))
		requireClean(t)
	})
	t.Run("a changed object of the bed is refused", func(t *testing.T) {
		kc := env.Hub.Kube()
		ns, err := kc.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		require.NoError(t, err)
		ns.Labels = map[string]string{"changed": "yes"}
		_, err = kc.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
		require.NoError(t, err)
		err = env.Reset(ctx)
		require.True(t, errors.Is(err, framework.ErrNotResettable), "%v", err)
		require.ErrorContains(t, err, "namespaces default was changed")
		require.NoError(t, env.Checkpoint(ctx), "a new checkpoint takes the bed as it is")
		require.NoError(t, env.Reset(ctx))
	})
	t.Run("a stopped API server is refused", func(t *testing.T) {
		env.Cluster("east").Stop()
		err := env.Reset(ctx)
		require.True(t, errors.Is(err, framework.ErrNotResettable), "%v", err)
		require.ErrorContains(t, err, "API server of east is stopped")
		require.NoError(t, env.Cluster("east").Start(ctx))
	})
	t.Run("a spoke added since is removed, and starts empty when added again", func(t *testing.T) {
		for range 2 {
			north, err := env.AddSpoke(ctx, "north")
			require.NoError(t, err)
			_, err = north.Kube().CoreV1().Secrets("default").Get(ctx, "from-before", metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "north starts empty: %v", err)
			_, err = north.Kube().CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "from-before"}}, metav1.CreateOptions{})
			require.NoError(t, err)
			require.NoError(t, env.Reset(ctx))
			require.Len(t, env.All(), 2, "north was removed")
			require.Nil(t, env.Cluster("north"))
			require.Zero(t, north.PID(), "north's API server stopped")
		}
	})
}
