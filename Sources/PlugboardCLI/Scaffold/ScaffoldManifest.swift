/// The manifest both languages' scaffolds share: one tool adding two integers.
enum ScaffoldManifest {
    static func text(_ names: ScaffoldNames, source: String) -> String {
        """
        # \(names.plugin): a Plugboard plugin (\(source)). The manifest is what clients see; the
        # library only provides the handler named here.
        plugin: \(names.quoted(names.plugin))
        version: 0.1.0
        library: lib\(names.product).so
        abi: 1
        description: A new plugin.
        tools:
          - name: add                   # what clients see: rename freely (tool names are unique across plugins)
            handler: \(names.quoted(names.handler))
            title: Add two integers
            description: Adds two integers and returns their sum as structured output.
            input_schema:
              type: object
              properties:
                a: { type: integer }
                b: { type: integer }
              required: [a, b]
              additionalProperties: false
            output_schema:
              type: object
              properties:
                sum: { type: integer }
              required: [sum]
            annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }

        """
    }

    /// The README's run section, the same for both languages.
    static func runSection(_ names: ScaffoldNames, build: String) -> String {
        """
        ## Run it

        ```sh
        plugboard dev .          # \(build), serve it with watch on, rebuild and reload on every change
        ```

        or, for a one-off call from the shell (a configuration whose `plugins.folder` holds this
        folder, and whose `plugins.library_path` has the build folder when the library is not next
        to the manifest):

        ```sh
        plugboard call --config plugboard.yaml add '{"a": 2, "b": 3}'
        ```

        Rename the tool in `manifest.yaml` (`name:`); keep the `handler:`, which is what the library
        implements. The manifest's schemas are checked before the handler runs.

        """
    }
}
