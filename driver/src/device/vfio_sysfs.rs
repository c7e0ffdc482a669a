//! The checks before any VFIO ioctl, read from sysfs and /dev: each failure a kernel VFIO open can
//! meet gets its own message naming the PCI address, the step and what to do, instead of the bare
//! errno an ioctl would give.
//!
//! Paths are taken under a root directory (`/` on a real system) so that tests can lay out the
//! sysfs and /dev trees of broken setups in a temporary directory.

use super::{DeviceError, PCI_DEVICE_ID as DEVICE_ID, PCI_VENDOR_ID as VENDOR_ID};
use std::fs;
use std::path::{Path, PathBuf};

/// What the checks found: the device's sysfs directory and its IOMMU group.
#[derive(Debug, PartialEq, Eq)]
pub struct Ready {
    pub sysfs: PathBuf,
    pub group: u32,
}

/// `0000:01:00.0` (or `01:00.0`, taken as domain 0) in the kernel's form.
pub fn normalize_pci_address(addr: &str) -> Result<String, DeviceError> {
    let full = if addr.matches(':').count() == 1 {
        format!("0000:{addr}")
    } else {
        addr.to_string()
    };
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    let ok = match full.split([':', '.']).collect::<Vec<_>>()[..] {
        [dom, bus, dev, func] => {
            hex(dom, 4) && hex(bus, 2) && hex(dev, 2) && func.len() == 1 && func < "8"
        }
        _ => false,
    };
    if !ok {
        return Err(DeviceError {
            device: addr.to_string(),
            step: "parse PCI address".into(),
            reason: "expected DOMAIN:BUS:DEVICE.FUNCTION such as 0000:01:00.0 (see `lspci -D`)"
                .into(),
        });
    }
    Ok(full.to_ascii_lowercase())
}

/// Runs every check, in the order a setup is built: device present, VFIO in the kernel, the
/// container node, the device bound to vfio-pci, its IOMMU group, the group node and its
/// permissions, and the group's other devices.
pub fn check(root: &Path, addr: &str) -> Result<Ready, DeviceError> {
    let fail = |step: &str, reason: String| DeviceError {
        device: addr.to_string(),
        step: step.to_string(),
        reason,
    };
    let sysfs = root.join("sys/bus/pci/devices").join(addr);
    if !sysfs.exists() {
        return Err(fail(
            "find the PCI device",
            format!(
                "{} does not exist: no such PCI function (`lspci -D -d {VENDOR_ID:04x}:` lists the boards)",
                sysfs.display()
            ),
        ));
    }
    if !root.join("sys/module/vfio").exists() {
        return Err(fail(
            "check VFIO in the kernel",
            "the vfio module is not loaded: run `modprobe vfio-pci` (kernel config \
             CONFIG_VFIO_PCI)"
                .into(),
        ));
    }
    if !root.join("dev/vfio/vfio").exists() {
        return Err(fail(
            "open /dev/vfio/vfio",
            "/dev/vfio/vfio is absent: run `modprobe vfio-pci`; inside a container, pass \
             /dev/vfio through"
                .into(),
        ));
    }
    let driver = link_name(&sysfs.join("driver"));
    if driver.as_deref() != Some("vfio-pci") {
        let bound = driver.map_or("no driver".to_string(), |d| format!("driver {d}"));
        return Err(fail(
            "check the driver binding",
            format!(
                "bound to {bound}, not vfio-pci; bind it with\n{}",
                bind_commands(addr)
            ),
        ));
    }
    let group = link_name(&sysfs.join("iommu_group"))
        .and_then(|g| g.parse::<u32>().ok())
        .ok_or_else(|| {
            fail(
                "find the IOMMU group",
                "the device has no IOMMU group: enable the IOMMU in firmware and on the kernel \
                 command line (intel_iommu=on or amd_iommu=on, iommu=pt)"
                    .into(),
            )
        })?;
    let node = root.join("dev/vfio").join(group.to_string());
    if !node.exists() {
        return Err(fail(
            &format!("open /dev/vfio/{group}"),
            format!(
                "{} is absent although the device is bound to vfio-pci",
                node.display()
            ),
        ));
    }
    match fs::OpenOptions::new().read(true).write(true).open(&node) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(fail(
                &format!("open /dev/vfio/{group}"),
                format!(
                    "permission denied: run as root, or give your user the group node \
                     (`chown $USER /dev/vfio/{group}`, or a udev rule) and raise the \
                     locked-memory limit (`ulimit -l`)"
                ),
            ));
        }
        // A group is opened by one process at a time.
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            return Err(fail(
                &format!("open /dev/vfio/{group}"),
                "the group is in use by another process (another anypoint-ctl, or a VM the \
                 board is passed to): stop it first"
                    .into(),
            ));
        }
        // Anything else is reported by the VFIO open that follows.
        _ => {}
    }
    let strays = group_strays(root, group, addr);
    if !strays.is_empty() {
        return Err(fail(
            &format!("check IOMMU group {group}"),
            format!(
                "the group is not viable: {} must be unbound or bound to vfio-pci too \
                 (a whole IOMMU group goes to VFIO at once)",
                strays.join(", ")
            ),
        ));
    }
    Ok(Ready { sysfs, group })
}

/// The shell commands that hand the function to vfio-pci.
pub fn bind_commands(addr: &str) -> String {
    format!(
        "  modprobe vfio-pci\n  \
         echo {addr} > /sys/bus/pci/devices/{addr}/driver/unbind   # if bound to another driver\n  \
         echo vfio-pci > /sys/bus/pci/devices/{addr}/driver_override\n  \
         echo {addr} > /sys/bus/pci/drivers_probe\n\
         (or, for every board with our experimental ID: \
         echo {VENDOR_ID:04x} {DEVICE_ID:04x} > /sys/bus/pci/drivers/vfio-pci/new_id)"
    )
}

/// Other devices of the group bound to a driver that keeps the group from VFIO, as `ADDR (driver)`.
fn group_strays(root: &Path, group: u32, addr: &str) -> Vec<String> {
    let dir = root.join(format!("sys/kernel/iommu_groups/{group}/devices"));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut strays: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let driver = link_name(&root.join("sys/bus/pci/devices").join(&name).join("driver"))?;
            // Bridges stay with pcieport; pci-stub and vfio-pci leave the group to us.
            let harmless = ["vfio-pci", "pci-stub", "pcieport"].contains(&driver.as_str());
            (name != addr && !harmless).then(|| format!("{name} ({driver})"))
        })
        .collect();
    strays.sort();
    strays
}

/// The last component of a symlink's target (`.../drivers/vfio-pci` -> `vfio-pci`).
fn link_name(link: &Path) -> Option<String> {
    let target = fs::read_link(link).ok()?;
    Some(target.file_name()?.to_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const ADDR: &str = "0000:01:00.0";

    /// A sysfs and /dev tree in which the board at ADDR is ready for VFIO, in IOMMU group 7.
    fn ready_tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for dir in [
            "sys/module/vfio",
            "sys/bus/pci/drivers/vfio-pci",
            "dev/vfio",
        ] {
            fs::create_dir_all(r.join(dir)).unwrap();
        }
        add_device(r, ADDR, Some("vfio-pci"), 7);
        fs::write(r.join("dev/vfio/vfio"), "").unwrap();
        fs::write(r.join("dev/vfio/7"), "").unwrap();
        root
    }

    fn add_device(r: &Path, addr: &str, driver: Option<&str>, group: u32) {
        let dev = r.join("sys/bus/pci/devices").join(addr);
        fs::create_dir_all(&dev).unwrap();
        if let Some(d) = driver {
            fs::create_dir_all(r.join("sys/bus/pci/drivers").join(d)).unwrap();
            symlink(r.join("sys/bus/pci/drivers").join(d), dev.join("driver")).unwrap();
        }
        let g = r.join(format!("sys/kernel/iommu_groups/{group}"));
        fs::create_dir_all(g.join("devices")).unwrap();
        symlink(&g, dev.join("iommu_group")).unwrap();
        symlink(&dev, g.join("devices").join(addr)).unwrap();
    }

    fn err(root: &Path) -> String {
        check(root, ADDR).unwrap_err().to_string()
    }

    #[test]
    fn a_ready_device_passes() {
        let root = ready_tree();
        let ready = check(root.path(), ADDR).unwrap();
        assert_eq!(ready.group, 7);
        assert_eq!(
            ready.sysfs,
            root.path().join("sys/bus/pci/devices").join(ADDR)
        );
    }

    #[test]
    fn addresses_are_normalized_or_refused() {
        assert_eq!(normalize_pci_address("01:00.0").unwrap(), "0000:01:00.0");
        assert_eq!(
            normalize_pci_address("0000:AF:1f.7").unwrap(),
            "0000:af:1f.7"
        );
        for bad in ["1:0.0", "0000:01:00.8", "0000:01:00", "eth0", ""] {
            let e = normalize_pci_address(bad).unwrap_err().to_string();
            assert!(
                e.contains("parse PCI address: expected DOMAIN:BUS"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_missing_device_is_named() {
        let root = ready_tree();
        let e = check(root.path(), "0000:02:00.0").unwrap_err().to_string();
        assert!(e.starts_with("0000:02:00.0: find the PCI device:"), "{e}");
    }

    #[test]
    fn vfio_missing_in_the_kernel() {
        let root = ready_tree();
        fs::remove_dir(root.path().join("sys/module/vfio")).unwrap();
        let e = err(root.path());
        assert!(
            e.contains("check VFIO in the kernel: the vfio module is not loaded"),
            "{e}"
        );
    }

    #[test]
    fn container_node_absent() {
        let root = ready_tree();
        fs::remove_file(root.path().join("dev/vfio/vfio")).unwrap();
        assert!(err(root.path()).contains("open /dev/vfio/vfio: /dev/vfio/vfio is absent"));
    }

    #[test]
    fn not_bound_to_vfio_pci_prints_the_bind_commands() {
        let root = ready_tree();
        let link = root
            .path()
            .join("sys/bus/pci/devices")
            .join(ADDR)
            .join("driver");
        fs::remove_file(&link).unwrap();
        fs::create_dir_all(root.path().join("sys/bus/pci/drivers/ixgbe")).unwrap();
        symlink(root.path().join("sys/bus/pci/drivers/ixgbe"), &link).unwrap();
        let e = err(root.path());
        assert!(
            e.contains("check the driver binding: bound to driver ixgbe, not vfio-pci"),
            "{e}"
        );
        assert!(e.contains("echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override"));
        assert!(e.contains("echo 1234 4150 > /sys/bus/pci/drivers/vfio-pci/new_id"));
        fs::remove_file(&link).unwrap();
        assert!(err(root.path()).contains("bound to no driver, not vfio-pci"));
    }

    #[test]
    fn no_iommu_group() {
        let root = ready_tree();
        fs::remove_file(
            root.path()
                .join("sys/bus/pci/devices")
                .join(ADDR)
                .join("iommu_group"),
        )
        .unwrap();
        assert!(err(root.path()).contains("find the IOMMU group: the device has no IOMMU group"));
    }

    #[test]
    fn group_node_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let root = ready_tree();
        let node = root.path().join("dev/vfio/7");
        fs::set_permissions(&node, fs::Permissions::from_mode(0o000)).unwrap();
        // Root opens anything: the check can only be seen failing as another user.
        let as_root = unsafe { libc::geteuid() } == 0;
        match check(root.path(), ADDR) {
            Ok(_) => assert!(as_root, "mode 000 must be refused for a normal user"),
            Err(e) => assert!(e
                .to_string()
                .contains("open /dev/vfio/7: permission denied")),
        }
        fs::remove_file(&node).unwrap();
        assert!(err(root.path()).contains("open /dev/vfio/7: "));
    }

    #[test]
    fn a_group_shared_with_a_bound_device_is_not_viable() {
        let root = ready_tree();
        add_device(root.path(), "0000:01:00.1", Some("ixgbe"), 7);
        add_device(root.path(), "0000:00:01.0", Some("pcieport"), 7);
        let e = err(root.path());
        assert!(
            e.contains("check IOMMU group 7: the group is not viable: 0000:01:00.1 (ixgbe) must"),
            "{e}"
        );
        assert!(!e.contains("0000:00:01.0"), "{e}");
    }
}
