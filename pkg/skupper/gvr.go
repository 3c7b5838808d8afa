package skupper

import "k8s.io/apimachinery/pkg/runtime/schema"

// Group and version of the Skupper v2 API.
const (
	Group   = "skupper.io"
	Version = "v2alpha1"
)

// GroupVersion is skupper.io/v2alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// Resources of the Skupper kinds vanlink uses.
var (
	SitesGVR        = GroupVersion.WithResource("sites")
	AccessGrantsGVR = GroupVersion.WithResource("accessgrants")
	AccessTokensGVR = GroupVersion.WithResource("accesstokens")
	LinksGVR        = GroupVersion.WithResource("links")
	ListenersGVR    = GroupVersion.WithResource("listeners")
	ConnectorsGVR   = GroupVersion.WithResource("connectors")
	// SecretsGVR are core Secrets: a redeemed token leaves the Link's TLS
	// credentials in a Secret named after it.
	SecretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	// ConfigMapsGVR are core ConfigMaps: the controller keeps a Site's router
	// configuration in ConfigMap RouterConfigMap, owned by the Site.
	ConfigMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// RouterConfigMap is the ConfigMap holding the router configuration of the
// active Site of a namespace, owned by that Site; upstream identifies the
// active Site by its owner (skupperproject/skupper
// internal/kube/site/site.go, Site.createRouterConfigForGroup and
// SiteRecovery.IsActive).
const RouterConfigMap = "skupper-router"

// Labels and annotations vanlink puts on the objects it creates.
const (
	// ManagedByLabel marks objects created by vanlink (value ManagedByValue).
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "vanlink"
	// GrantUIDAnnotation records the uid of the grant a token was built from.
	GrantUIDAnnotation = "vanlink.io/grant-uid"
	// GrantAnnotation records namespace/name of the grant a token was built from.
	GrantAnnotation = "vanlink.io/grant"
)

// Status values common to Skupper kinds (status.status).
const (
	StatusPending = "Pending"
	StatusError   = "Error"
	StatusReady   = "Ready"
)
