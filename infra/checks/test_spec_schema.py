"""The published JSON Schema (config/spec.schema.json) accepts every file of the bundled spec
and rejects what an editor should flag: an unknown policy, an unknown mapping, a NetSuite field
that is neither known nor custom, a lookup without `default` or `unmapped`.

    infra/.venv/bin/python infra/checks/test_spec_schema.py
"""
import copy
import json
import pathlib
import unittest

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def schema():
    return json.loads((CONFIG / "spec.schema.json").read_text())


def files():
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(CONFIG.glob("*.yaml"))}


class SpecSchema(unittest.TestCase):
    def setUp(self):
        self.validator = jsonschema.Draft202012Validator(schema())

    def errors(self, doc):
        return [e.message for e in self.validator.iter_errors(doc)]

    def test_every_bundled_file_is_valid(self):
        docs = files()
        self.assertEqual(sorted(docs), ["lookups.yaml", "mappings.yaml", "spec.yaml"])
        for name, doc in docs.items():
            self.assertEqual(self.errors(doc), [], name)

    def test_what_an_editor_flags(self):
        docs = files()
        spec = copy.deepcopy(docs["spec.yaml"])
        spec["rules"]["capture"]["default"] = "on_delivery"
        self.assertTrue(any("on_delivery" in e for e in self.errors(spec)))
        maps = copy.deepcopy(docs["mappings.yaml"])
        maps["mappings"]["erp.invoice"] = {"fields": {}}
        self.assertTrue(self.errors(maps))
        maps = copy.deepcopy(docs["mappings.yaml"])
        maps["mappings"]["erp.customer"]["fields"]["emial"] = ".order.customer.email"
        self.assertTrue(self.errors(maps))
        maps = copy.deepcopy(docs["mappings.yaml"])
        maps["mappings"]["erp.customer"]["fields"]["custentity_loyalty"] = "\"gold\""
        self.assertEqual(self.errors(maps), [], "custom fields are allowed")
        looks = copy.deepcopy(docs["lookups.yaml"])
        del looks["lookups"]["crm"]["unmapped"]
        self.assertTrue(self.errors(looks))


if __name__ == "__main__":
    unittest.main()
