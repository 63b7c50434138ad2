"""OCI Python SDK checks against the vauto OCI simulator (run by tests/conformance/oci.sh).

Usage: oci_sdk.py URL CONFIG_FILE AD IMAGE_ID SUBNET_ID
Prints `ok NAME` or `FAIL NAME: why` per check; exits 1 when any check failed.
"""

import sys

import oci

URL, CFG, AD, IMAGE, SUBNET = sys.argv[1:6]
config = oci.config.from_file(CFG, "DEFAULT")
TENANCY = config["tenancy"]
compute = oci.core.ComputeClient(config, service_endpoint=URL)
network = oci.core.VirtualNetworkClient(config, service_endpoint=URL)
work_requests = oci.work_requests.WorkRequestClient(config, service_endpoint=URL)
composite = oci.core.ComputeClientCompositeOperations(compute, work_request_client=work_requests)
failures = 0


def check(name, cond, why=""):
    global failures
    if cond:
        print(f"ok sdk-{name}")
    else:
        failures += 1
        print(f"FAIL sdk-{name}: {why}")


def service_error(call):
    """The ServiceError a call raises, or None when it succeeds."""
    try:
        call()
    except oci.exceptions.ServiceError as e:
        return e
    return None


# LaunchInstance answers `opc-work-request-id` (LaunchInstanceResponse.opc_work_request_id
# in the SDKs) and the instance PROVISIONING; oci.wait_until polls GetInstance until RUNNING
# (oci/waiter.py).
details = oci.core.models.LaunchInstanceDetails(
    compartment_id=TENANCY,
    availability_domain=AD,
    shape="VM.Standard.E2.1.Micro",
    display_name="sdk-1",
    source_details=oci.core.models.InstanceSourceViaImageDetails(image_id=IMAGE),
    create_vnic_details=oci.core.models.CreateVnicDetails(subnet_id=SUBNET),
)
launched = compute.launch_instance(details)
inst = launched.data
check("launch-work-request-header", launched.headers.get("opc-work-request-id", "").startswith("ocid1."),
      f"headers {dict(launched.headers)}")
check("launch-provisioning", inst.lifecycle_state == "PROVISIONING", inst.lifecycle_state)
running = oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING",
                         max_interval_seconds=1, max_wait_seconds=60)
check("wait-until-running", running.data.lifecycle_state == "RUNNING", running.data.lifecycle_state)
# The launch work request has SUCCEEDED once the instance runs (GetWorkRequest).
wr = work_requests.get_work_request(launched.headers["opc-work-request-id"]).data
check("launch-work-request-succeeded",
      wr.status == "SUCCEEDED" and wr.percent_complete == 100.0 and wr.operation_type == "LaunchInstance"
      and wr.resources[0].identifier == inst.id and wr.time_finished is not None,
      f"{wr}")

# The etag changes with the lifecycle state (ETags for optimistic concurrency control).
etag_running = running.headers.get("etag")
stopping = compute.instance_action(inst.id, "STOP", if_match=etag_running)
check("action-if-match-current-etag", stopping.data.lifecycle_state == "STOPPING", stopping.data.lifecycle_state)
check("etag-changes-with-state", stopping.headers.get("etag") not in (None, etag_running),
      f"{etag_running} -> {stopping.headers.get('etag')}")
# A stale etag: 412 NoEtagMatch (API Errors), nothing changes.
e = service_error(lambda: compute.instance_action(inst.id, "START", if_match=etag_running))
check("if-match-stale-412", e is not None and e.status == 412 and e.code == "NoEtagMatch", f"{e}")
stopped = oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "STOPPED",
                         max_interval_seconds=1, max_wait_seconds=60)
check("wait-until-stopped", stopped.data.lifecycle_state == "STOPPED", stopped.data.lifecycle_state)
started = compute.instance_action(inst.id, "START")
oci.wait_until(compute, compute.get_instance(inst.id), "lifecycle_state", "RUNNING",
               max_interval_seconds=1, max_wait_seconds=60)

# UpdateInstance: a new display name.
upd = compute.update_instance(inst.id, oci.core.models.UpdateInstanceDetails(display_name="sdk-renamed"))
check("update-instance", upd.data.display_name == "sdk-renamed", upd.data.display_name)

# GetImage, ListShapes (paged by the SDK's pagination helper), GetVnicAttachment.
img = compute.get_image(IMAGE).data
check("get-image", img.id == IMAGE, img.id)
shapes = oci.pagination.list_call_get_all_results(compute.list_shapes, TENANCY, limit=2).data
names = [s.shape for s in shapes]
check("list-shapes-paged", "VM.Standard.E2.1.Micro" in names and len(names) == len(set(names)) and len(names) > 2,
      f"{names}")
atts = compute.list_vnic_attachments(TENANCY, instance_id=inst.id).data
att = compute.get_vnic_attachment(atts[0].id).data if atts else None
check("get-vnic-attachment", att is not None and att.instance_id == inst.id and att.lifecycle_state == "ATTACHED",
      f"{att}")

# terminate_instance_and_wait_for_work_request polls GetWorkRequest until SUCCEEDED, FAILED
# or CANCELED (oci/core/compute_client_composite_operations.py); the instance is TERMINATED
# by then.
done = composite.terminate_instance_and_wait_for_work_request(
    inst.id, waiter_kwargs={"max_interval_seconds": 1, "max_wait_seconds": 60})
status = getattr(done.data, "status", None)
check("terminate-and-wait-for-work-request", status == "SUCCEEDED", f"status {status}")
after = compute.get_instance(inst.id).data
check("terminated-after-work-request", after.lifecycle_state == "TERMINATED", after.lifecycle_state)
errors = work_requests.list_work_request_errors(done.data.id).data
logs = work_requests.list_work_request_logs(done.data.id).data
check("work-request-errors-and-logs", errors == [] and len(logs) >= 1, f"errors {errors} logs {logs}")

# An unknown work request OCID: 404 NotAuthorizedOrNotFound, as for every unknown OCID.
e = service_error(lambda: work_requests.get_work_request("ocid1.coreservicesworkrequest.oc1.sim-region-1.nope"))
check("unknown-work-request-404", e is not None and e.status == 404 and e.code == "NotAuthorizedOrNotFound", f"{e}")

sys.exit(1 if failures else 0)
