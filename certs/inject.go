package certs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// APIServiceResource is the aggregator's APIService, patched through the
// dynamic client (no kube-aggregator clientset needed).
var APIServiceResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// injector keeps the caBundle of one APIService and one
// ValidatingWebhookConfiguration equal to the CA. It watches only those
// names (a metadata.name field selector), so RBAC may restrict the
// gateway to them with resourceNames; an object that does not exist yet
// is patched as soon as it appears, one reset by an apply is patched back.
type injector struct {
	kube                kubernetes.Interface
	dyn                 dynamic.Interface
	apiService, webhook string
	log                 *slog.Logger
	changed             func()

	apiStore, webhookStore cache.Store
}

func newInjector(o Options, log *slog.Logger, changed func()) *injector {
	return &injector{kube: o.Kube, dyn: o.Dynamic, apiService: o.APIServiceName, webhook: o.WebhookConfigurationName, log: log, changed: changed}
}

// byName restricts a list or watch to the object called name.
func byName(name string) func(*metav1.ListOptions) {
	return func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
}

// watch starts the watches of the Secret and the patched objects; every
// event calls changed. The returned function stops them and waits.
func (in *injector) watch(ctx context.Context, kube kubernetes.Interface, namespace, secret string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { in.changed() },
		UpdateFunc: func(any, any) { in.changed() },
		DeleteFunc: func(any) { in.changed() },
	}
	const resync = 0 // the Manager's own timer re-checks
	secrets := informers.NewSharedInformerFactoryWithOptions(kube, resync,
		informers.WithNamespace(namespace), informers.WithTweakListOptions(byName(secret)))
	_, _ = secrets.Core().V1().Secrets().Informer().AddEventHandler(handler)
	secrets.Start(ctx.Done())
	stops := []func(){secrets.Shutdown}

	if in.webhook != "" {
		f := informers.NewSharedInformerFactoryWithOptions(kube, resync, informers.WithTweakListOptions(byName(in.webhook)))
		inf := f.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer()
		_, _ = inf.AddEventHandler(handler)
		in.webhookStore = inf.GetStore()
		f.Start(ctx.Done())
		stops = append(stops, f.Shutdown)
	}
	if in.apiService != "" {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(in.dyn, resync, "", byName(in.apiService))
		inf := f.ForResource(APIServiceResource).Informer()
		_, _ = inf.AddEventHandler(handler)
		in.apiStore = inf.GetStore()
		f.Start(ctx.Done())
		stops = append(stops, f.Shutdown)
	}
	return func() {
		cancel()
		for _, s := range stops {
			s()
		}
	}
}

// inject patches ca into the watched objects whose caBundle differs. An
// object not seen (yet) is left for its Add event.
func (in *injector) inject(ctx context.Context, ca []byte) error {
	if in.apiStore != nil {
		if err := in.injectAPIService(ctx, ca); err != nil {
			return err
		}
	}
	if in.webhookStore != nil {
		if err := in.injectWebhook(ctx, ca); err != nil {
			return err
		}
	}
	return nil
}

func (in *injector) injectAPIService(ctx context.Context, ca []byte) error {
	obj, ok, _ := in.apiStore.GetByKey(in.apiService)
	if !ok {
		return nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	cur, _, _ := unstructured.NestedString(u.Object, "spec", "caBundle")
	if cur == base64.StdEncoding.EncodeToString(ca) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"caBundle": ca}})
	if _, err := in.dyn.Resource(APIServiceResource).Patch(ctx, in.apiService, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("certs: patch APIService %s caBundle: %w", in.apiService, err)
	}
	in.log.Info("certificates: caBundle patched", "kind", "APIService", "name", in.apiService)
	return nil
}

// injectWebhook patches every webhook entry whose caBundle differs. Each
// entry's name is tested in the same JSON patch, so an entry list changed
// meanwhile fails the patch instead of patching the wrong entry; the
// change's event brings another round.
func (in *injector) injectWebhook(ctx context.Context, ca []byte) error {
	obj, ok, _ := in.webhookStore.GetByKey(in.webhook)
	if !ok {
		return nil
	}
	cfg, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
	if !ok {
		return nil
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	var ops []op
	for i, w := range cfg.Webhooks {
		if bytes.Equal(w.ClientConfig.CABundle, ca) {
			continue
		}
		ops = append(ops,
			op{Op: "test", Path: fmt.Sprintf("/webhooks/%d/name", i), Value: w.Name},
			op{Op: "add", Path: fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), Value: ca})
	}
	if len(ops) == 0 {
		return nil
	}
	patch, _ := json.Marshal(ops)
	_, err := in.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Patch(ctx, in.webhook, types.JSONPatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("certs: patch ValidatingWebhookConfiguration %s caBundle: %w", in.webhook, err)
	}
	in.log.Info("certificates: caBundle patched", "kind", "ValidatingWebhookConfiguration", "name", in.webhook, "webhooks", len(ops)/2)
	return nil
}
