package kind

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// CommandPod is a pod that runs one command of a loaded image to completion,
// under the restricted Pod Security Standard: vanlink as the chart's
// ServiceAccount, or the demo's client. An empty serviceAccount keeps the
// namespace's default and mounts no token.
func CommandPod(namespace, generateName, serviceAccount, image string, args []string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: generateName, Namespace: namespace,
			Labels: map[string]string{"app.kubernetes.io/part-of": "vanlink", "app.kubernetes.io/component": "e2e-kind"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			ServiceAccountName:           serviceAccount,
			AutomountServiceAccountToken: ptr.To(serviceAccount != ""),
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name:            "run",
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            args,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
}

// Result is what a finished command pod left.
type Result struct {
	Pod      string
	ExitCode int
	// Log holds stdout and stderr together (Kubernetes merges them).
	Log string
}

// StartPod creates pod and returns a function that waits for it to finish,
// reads its log and deletes it.
func StartPod(ctx context.Context, kc kubernetes.Interface, pod *corev1.Pod) (wait func() (Result, error), err error) {
	created, err := kc.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s in %s: %w", pod.GenerateName, pod.Namespace, err)
	}
	return func() (Result, error) {
		ns, name := created.Namespace, created.Name
		defer func() {
			_ = kc.CoreV1().Pods(ns).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
		}()
		done, err := waitPodDone(ctx, kc, ns, name)
		if err != nil {
			return Result{Pod: name}, err
		}
		log, err := podLogs(ctx, kc, ns, name)
		if err != nil {
			return Result{Pod: name}, fmt.Errorf("log of pod %s/%s: %w", ns, name, err)
		}
		return Result{Pod: name, ExitCode: exitCode(done), Log: log}, nil
	}, nil
}
