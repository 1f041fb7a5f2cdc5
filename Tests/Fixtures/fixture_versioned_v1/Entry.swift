import FixtureVersionedCore
import PlugboardKit

@c(plugboard_plugin_v1)
public func plugboardPlugin() -> UnsafePointer<pb_plugin> { exportVersioned("v1") }
