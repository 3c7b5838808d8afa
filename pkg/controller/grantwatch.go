package controller

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// Grant watches the hub AccessGrant and the Sites of its namespace; changed
// is called when the grant's uid, code, budget, expiry or state change (not
// on each redemption: a redemption changes no plan) or when what the hub
// Site allows changes (it can issue links, its router groups); replaced is
// called instead when the grant has a new uid (it was re-created).
func (w *Watch) Grant(dyn dynamic.Interface, ns, name string, changed, replaced func()) error {
	// The grant by name (the jobs' RBAC grants it by name: a list must say so).
	gf := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, func(o *metav1.ListOptions) {
		o.FieldSelector = "metadata.name=" + name
	})
	grants := gf.ForResource(skupper.AccessGrantsGVR).Informer()
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
	sites := f.ForResource(skupper.SitesGVR).Informer()
	var mu sync.Mutex
	last := map[string]string{}
	lastUID := ""
	on := func(kind string, key func(o any) string) func(any) {
		return func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			u, ok := o.(*unstructured.Unstructured)
			if !ok || kind == "grant" && u.GetName() != name {
				return
			}
			k := key(u)
			id := kind + "/" + u.GetName()
			mu.Lock()
			same := last[id] == k
			last[id] = k
			newUID := kind == "grant" && lastUID != "" && lastUID != string(u.GetUID())
			if kind == "grant" {
				lastUID = string(u.GetUID())
			}
			mu.Unlock()
			switch {
			case newUID:
				replaced()
			case !same:
				changed()
			}
		}
	}
	for _, item := range []struct {
		kind, resource string
		inf            cache.SharedIndexInformer
		key            func(o any) string
	}{{"grant", skupper.AccessGrantsGVR.Resource, grants, grantKey}, {"site", skupper.SitesGVR.Resource, sites, siteKey}} {
		h := on(item.kind, item.key)
		if _, err := item.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: h, UpdateFunc: func(_, n any) { h(n) },
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				if u, ok := o.(*unstructured.Unstructured); ok {
					mu.Lock()
					delete(last, item.kind+"/"+u.GetName())
					mu.Unlock()
				}
				changed()
			},
		}); err != nil {
			return err
		}
		if err := w.track(item.resource, item.inf); err != nil {
			return err
		}
	}
	w.starts = append(w.starts, gf.Start, f.Start)
	return nil
}

// grantKey digests what a plan or the budget reads of a grant, without the
// redemptions made; the code only as a hash.
func grantKey(o any) string {
	u := o.(*unstructured.Unstructured)
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	st := map[string]any{}
	for k, v := range status {
		if k != "redemptions" {
			st[k] = v
		}
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	data, _ := json.Marshal([]any{u.GetUID(), spec, st})
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%x", sum)
}

// siteKey is what a plan reads of a hub Site: whether it can issue links
// and how many router groups it has.
func siteKey(o any) string {
	s, err := skupper.ParseSite(o.(*unstructured.Unstructured))
	if err != nil {
		return "unparsable: " + err.Error()
	}
	ok := "ok"
	if err := s.CanIssueLinks(); err != nil {
		ok = err.Error()
	}
	return fmt.Sprintf("%s|%d", ok, s.LinkGroups())
}
