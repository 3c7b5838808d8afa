package scenarios

import "k8s.io/apimachinery/pkg/runtime/schema"

var skupperSecretGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
