package kind

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
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
	// Log holds stdout and stderr together, as the API serves a pod's log.
	Log string
	// Stdout and Stderr hold the two streams apart when the runner could
	// read them from the node (PodRunner.Streams); otherwise Stdout holds
	// the merged Log and Split is false.
	Stdout, Stderr string
	Split          bool
}

// Default limits of a PodRunner.
const (
	DefaultPodTimeout  = 10 * time.Minute
	DefaultPodInterval = time.Second
)

// PodRunner runs command pods on one cluster and waits for them.
type PodRunner struct {
	Client kubernetes.Interface
	// Timeout bounds the wait for a pod to finish, whatever ctx allows
	// (default DefaultPodTimeout).
	Timeout time.Duration
	// Interval between two looks at the pod (default DefaultPodInterval).
	Interval time.Duration
	// Streams, when set, reads a finished pod's stdout and stderr apart
	// (the API merges them); when it fails the merged log is used.
	Streams func(ctx context.Context, pod *corev1.Pod) (stdout, stderr string, err error)
}

// StartPod creates pod and returns a function that waits for it to finish,
// reads its log and deletes it, with the default limits.
func StartPod(ctx context.Context, kc kubernetes.Interface, pod *corev1.Pod) (wait func() (Result, error), err error) {
	return PodRunner{Client: kc}.Start(ctx, pod)
}

// Start creates pod and returns a function that waits for it to finish,
// reads its log and deletes it. The wait fails at once when the pod cannot
// run (see PodStuckError), and after r.Timeout at the latest.
func (r PodRunner) Start(ctx context.Context, pod *corev1.Pod) (wait func() (Result, error), err error) {
	kc := r.Client
	created, err := kc.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s in %s: %w", pod.GenerateName, pod.Namespace, err)
	}
	return func() (Result, error) {
		ns, name := created.Namespace, created.Name
		defer func() {
			_ = kc.CoreV1().Pods(ns).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
		}()
		done, err := r.waitDone(ctx, ns, name)
		if err != nil {
			return Result{Pod: name}, err
		}
		log, err := podLogs(ctx, kc, ns, name)
		if err != nil {
			return Result{Pod: name}, fmt.Errorf("log of pod %s/%s: %w", ns, name, err)
		}
		res := Result{Pod: name, ExitCode: exitCode(done), Log: log, Stdout: log}
		if r.Streams != nil {
			if stdout, stderr, err := r.Streams(ctx, done); err == nil {
				res.Stdout, res.Stderr, res.Split = stdout, stderr, true
			}
		}
		return res, nil
	}, nil
}

// PodStuckError says why a pod will not run to completion by itself: an
// image that cannot be pulled, a container that cannot be created, or a pod
// that cannot be scheduled.
type PodStuckError struct {
	Namespace, Pod string
	// Container is empty for a scheduling failure.
	Container string
	// Reason is the kubelet's or the scheduler's reason (ImagePullBackOff,
	// Unschedulable, ...); Message its message.
	Reason, Message string
}

func (e *PodStuckError) Error() string {
	where := "cannot be scheduled"
	if e.Container != "" {
		where = fmt.Sprintf("container %s cannot start", e.Container)
	}
	return fmt.Sprintf("pod %s/%s %s: %s: %s", e.Namespace, e.Pod, where, e.Reason, e.Message)
}

// StuckReasons are the waiting reasons of a container that will not start
// without someone changing something: the image is loaded into the nodes,
// never pulled, so a pull error means it is missing.
var StuckReasons = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}

// PodStuck returns a *PodStuckError when pod cannot run to completion by
// itself, or nil while it may still.
func PodStuck(pod *corev1.Pod) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return &PodStuckError{Namespace: pod.Namespace, Pod: pod.Name, Reason: c.Reason, Message: c.Message}
		}
	}
	for _, s := range append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil && slices.Contains(StuckReasons, w.Reason) {
			return &PodStuckError{Namespace: pod.Namespace, Pod: pod.Name, Container: s.Name, Reason: w.Reason, Message: w.Message}
		}
	}
	return nil
}

// waitDone waits for a pod to succeed or fail and returns it; it fails at
// once when the pod is stuck, and after r.Timeout.
func (r PodRunner) waitDone(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	timeout, interval := r.Timeout, r.Interval
	if timeout <= 0 {
		timeout = DefaultPodTimeout
	}
	if interval <= 0 {
		interval = DefaultPodInterval
	}
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := r.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return true, nil
		}
		return false, PodStuck(p)
	})
	var stuck *PodStuckError
	switch {
	case errors.As(err, &stuck):
		return pod, err
	case err != nil && pod != nil:
		return pod, fmt.Errorf("pod %s/%s did not finish (phase %s): %w", namespace, name, pod.Status.Phase, err)
	case err != nil:
		return pod, fmt.Errorf("pod %s/%s did not finish: %w", namespace, name, err)
	}
	return pod, nil
}

// podLogs returns a pod's log (Kubernetes merges stdout and stderr).
func podLogs(ctx context.Context, kc kubernetes.Interface, namespace, name string) (string, error) {
	data, err := kc.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	return string(data), err
}

// exitCode is the exit code of a finished pod's first container.
func exitCode(pod *corev1.Pod) int {
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated != nil {
			return int(s.State.Terminated.ExitCode)
		}
	}
	if pod.Status.Phase == corev1.PodSucceeded {
		return 0
	}
	return -1
}

// ContainerLogPath is where the kubelet keeps the log of the first run of a
// pod's container on its node, in the CRI logging format, with the two
// streams told apart.
func ContainerLogPath(pod *corev1.Pod, container string) string {
	return fmt.Sprintf("/var/log/pods/%s_%s_%s/%s/0.log", pod.Namespace, pod.Name, pod.UID, container)
}

// SplitCRILog parses a container log in the CRI logging format
// ("<time> <stdout|stderr> <F|P> <text>" per line, P for a partial line
// continued by the next one) into its stdout and stderr.
func SplitCRILog(log string) (stdout, stderr string, err error) {
	var out, errs strings.Builder
	s := bufio.NewScanner(strings.NewReader(log))
	s.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, " ", 4)
		if len(parts) < 3 {
			return "", "", fmt.Errorf("line %d is not in the CRI log format: %q", n, line)
		}
		text := ""
		if len(parts) == 4 {
			text = parts[3]
		}
		var b *strings.Builder
		switch parts[1] {
		case "stdout":
			b = &out
		case "stderr":
			b = &errs
		default:
			return "", "", fmt.Errorf("line %d names stream %q, not stdout or stderr", n, parts[1])
		}
		b.WriteString(text)
		if tag, _, _ := strings.Cut(parts[2], ":"); tag != "P" {
			b.WriteByte('\n')
		}
	}
	return out.String(), errs.String(), s.Err()
}
