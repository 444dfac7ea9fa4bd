"""The simulated QKD device as a qsbench adapter: a link from a device profile, in process.

Options: `profile` (a shipped profile name or a YAML path; default gys-2004), `fibre_km`
(default 25), `key_size` bits (256), `max_key_count` (1000), `block_bits` key-basis
detections per post-processing block (default the profile's block size), `seed` (0), `drift`
(calibration drift over long runs: `vendors/simulated_qkd/drift.py`, e.g.
`{polarisation_walk_rad_per_sqrt_h: 0.05, recalibration_interval_h: 4, efficiency_ageing_per_h: 0.005}`), and
`time_scale` (1.0) for the device clock while its ETSI 014 KMEs are served
(`etsi014_endpoints()` starts them on loopback).

In process, key delivery goes through the same `KmeApi` the HTTPS server uses, so
both paths refuse and deliver identically.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from harness.adapters import (
    Adapter,
    Attack,
    Availability,
    Capability,
    Etsi014Endpoints,
    Fault,
    Key,
    KeyDeliveryError,
    Kind,
    KmeStatus,
    NotApplicable,
    TelemetrySnapshot,
)
from vendors.simulated_qkd.drift import DriftModel
from vendors.simulated_qkd.keystore import End, LinkKeyStore

if TYPE_CHECKING:  # the link, the KME app and its server load with the first adapter made: naming the
    # adapter in a scenario (`qsbench validate`, `qsbench vendors`) loads this module and needs none
    from vendors.simulated_qkd.link import KeySource
    from vendors.simulated_qkd.served import ServedLink


class SimulatedQKDAdapter(Adapter):
    name: ClassVar[str] = "simulated_qkd"
    kind: ClassVar[Kind] = Kind.QKD
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.KEY_DELIVERY, Capability.TELEMETRY, Capability.CHANNEL_CONTROL,
        Capability.FAULT_INJECTION, Capability.ETSI014})
    options_accepted: ClassVar[frozenset[str]] = frozenset({
        "profile", "key_size", "block_bits", "max_key_count", "drift", "fibre_km", "seed", "time_scale"})

    def __init__(self, options: Mapping[str, Any] | None = None, source: KeySource | None = None) -> None:
        super().__init__(options)
        from vendors.simulated_qkd.kme_app import KmeApi, KmeLimits
        from vendors.simulated_qkd.link import SimulatedLink
        from vendors.simulated_qkd.served import DEFAULT_DIRECTORY

        opts = self.options
        self.profile_name = str(opts.get("profile", "gys-2004"))
        key_size = int(opts.get("key_size", 256))
        if source is None:
            from vendors.simulated_qkd.core_source import CoreKeySource

            block_bits = opts.get("block_bits")
            source = CoreKeySource(self.profile_name, int(block_bits) if block_bits else None)
        self.source = source
        store = LinkKeyStore(key_size, int(opts.get("max_key_count", 1000)))
        drift = DriftModel.model_validate(dict(opts["drift"])) if opts.get("drift") else None
        self.link = SimulatedLink(source, store, float(opts.get("fibre_km", 25.0)), int(opts.get("seed", 0)),
                                  drift)
        self.directory = DEFAULT_DIRECTORY
        limits = KmeLimits(key_size=key_size)
        self._kme = {end: KmeApi(end, self.directory, store, limits, self.link.unavailable_reason)
                     for end in (End.A, End.B)}
        self._served: ServedLink | None = None
        self._pki_dir: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def availability(cls) -> Availability:
        try:
            import harness.qkd.pipeline  # noqa: F401
        except ImportError as exc:
            return Availability(False, f"the QKD core is not importable: {exc}")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        from importlib.metadata import version

        return f"qsbench {version('qsbench')} simulated QKD"

    # --- key_delivery: the same KmeApi the HTTPS server runs ---
    def _call(self, fn: Any, *args: Any) -> Any:
        from vendors.simulated_qkd.kme_app import ApiError

        try:
            return fn(*args)
        except ApiError as exc:
            raise KeyDeliveryError(exc.status, exc.message) from None

    @property
    def master_sae_id(self) -> str:
        return self.directory.sae_ids[End.A]

    @property
    def slave_sae_id(self) -> str:
        return self.directory.sae_ids[End.B]

    def status(self) -> KmeStatus:
        return KmeStatus(**self._call(self._kme[End.A].status, self.master_sae_id, self.slave_sae_id))

    def enc_keys(self, number: int = 1, size_bits: int | None = None) -> list[Key]:
        body: dict[str, Any] = {"number": number} | ({} if size_bits is None else {"size": size_bits})
        return self._call(self._kme[End.A].enc_keys, self.master_sae_id, self.slave_sae_id, body)

    def dec_keys(self, key_ids: Sequence[str]) -> list[Key]:
        body = {"key_IDs": [{"key_ID": k} for k in key_ids]}
        return self._call(self._kme[End.B].dec_keys, self.slave_sae_id, self.master_sae_id, body)

    # --- datasheet: what the device declares ---
    def declared_profile(self) -> Any:
        """The profile as this device is configured: a `block_bits` option is its block size."""
        from harness.qkd.profiles import load_profile

        profile = load_profile(self.profile_name)
        block_bits = self.options.get("block_bits")
        return profile.with_changes({"security.block_size": int(block_bits)}) if block_bits else profile

    def declared_fibre_km(self) -> float | None:
        return None  # the channel is under control: no fixed installed length

    # --- telemetry, channel control, fault injection ---
    def observe(self, duration_s: float) -> TelemetrySnapshot:
        return self.link.run_for(duration_s)

    def set_fibre_km(self, km: float) -> None:
        self.link.set_fibre_km(km)

    def set_attenuation_db(self, db: float) -> None:
        self.link.set_attenuation_db(db)

    def set_attack(self, attack: Attack | None) -> None:
        self.link.set_attack(attack)

    def countermeasures(self) -> Sequence[str]:
        return tuple(getattr(self.source, "countermeasures", ()))

    def set_countermeasure(self, name: str, enabled: bool) -> None:
        setter = getattr(self.source, "set_countermeasure", None)
        if setter is None:
            raise NotApplicable(f"this key source has no switchable countermeasure {name!r}")
        setter(name, enabled)
        self.link.conditions_changed()

    def fault_kinds(self) -> Sequence[str]:
        from vendors.simulated_qkd.link import FAULT_KINDS

        return FAULT_KINDS

    def inject(self, fault: Fault) -> None:
        self.link.inject(fault)

    def clear_faults(self) -> None:
        self.link.clear_faults()

    # --- the same link over ETSI GS QKD 014 ---
    def etsi014_endpoints(self) -> Etsi014Endpoints:
        if self._served is None:
            from harness.etsi014_pki import make_test_pki
            from vendors.simulated_qkd.control import CLIENT_IDS
            from vendors.simulated_qkd.served import ServedLink

            self._pki_dir = tempfile.TemporaryDirectory(prefix="qsbench-kme-pki-")
            served = ServedLink(self.link, make_test_pki(self._pki_dir.name, sae_ids=CLIENT_IDS),
                                time_scale=float(self.options.get("time_scale", 1.0)))
            served.start()
            self._served = served
        return self._served.endpoints()

    def close(self) -> None:
        if self._served is not None:
            self._served.stop()
            self._served = None
        if self._pki_dir is not None:
            self._pki_dir.cleanup()
            self._pki_dir = None
