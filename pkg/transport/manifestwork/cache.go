package manifestwork

import (
	"context"
	"sync"

	"github.com/vanlink/vanlink/pkg/transport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

func (t *session) start(ctx, life context.Context) error {
	namespaces := t.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var factories []dynamicinformer.DynamicSharedInformerFactory
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(t.dyn, 0, ns, func(o *metav1.ListOptions) {
			o.LabelSelector = ManagedByLabel + "=" + ManagedByValue + "," + TokenNameLabel + "=" + t.opts.TokenName
		})
		inf := f.ForResource(WorksGVR).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    t.notifyObj,
			UpdateFunc: func(_, o any) { t.notifyObj(o) },
			DeleteFunc: t.notifyObj,
		}); err != nil {
			return err
		}
		t.infs = append(t.infs, inf)
		factories = append(factories, f)
	}
	synced := make([]cache.InformerSynced, 0, len(t.infs))
	for _, inf := range t.infs {
		synced = append(synced, inf.HasSynced)
	}
	return transport.StartInformers(ctx, life, "vanlink's ManifestWorks", factories, synced...)
}

func (t *session) notifyObj(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if u, ok := o.(*unstructured.Unstructured); ok {
		t.notify.notify(u.GetNamespace())
	}
}

// cached returns the spoke's work from the watch cache.
func (t *session) cached(spoke string) *unstructured.Unstructured {
	for _, inf := range t.infs {
		if o, ok, err := inf.GetStore().GetByKey(spoke + "/" + WorkName(t.opts.TokenName)); err == nil && ok {
			if u, ok := o.(*unstructured.Unstructured); ok {
				return u
			}
		}
	}
	return nil
}

func (t *session) lock(spoke string) func() {
	t.mu.Lock()
	l := t.locks[spoke]
	if l == nil {
		l = &sync.Mutex{}
		t.locks[spoke] = l
	}
	t.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// sweep puts back at rest every work that holds a code or is not at rest
