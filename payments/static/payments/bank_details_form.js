// The bank-details form shows only the fields the chosen country's banks use (the same rule as
// payments/bank_validation.py, whose IBAN countries the form carries in data-iban-countries).
// Without JavaScript every field stays visible and the server says which ones it needs.
(function () {
  "use strict";
  const form = document.querySelector("form[data-bank-details]");
  if (!form) return;
  const ibanCountries = new Set((form.dataset.ibanCountries || "").split(","));
  const schemeFields = JSON.parse(form.dataset.schemeFields || "{}");
  const country = form.querySelector("select[name=country]");
  const detailNames = new Set(Object.values(schemeFields).flat());

  function schemeOf(code) {
    if (code === "US") return "us_aba";
    if (code === "GB") return "gb_sort_code";
    if (ibanCountries.has(code)) return "iban";
    return "swift";
  }

  function update() {
    const shown = new Set(schemeFields[schemeOf(country.value)] || []);
    for (const name of detailNames) {
      const input = form.querySelector(`[name=${name}]`);
      const wrapper = input && input.closest(".field");
      if (wrapper) wrapper.hidden = Boolean(country.value) && !shown.has(name);
    }
  }

  country.addEventListener("change", update);
  update();
})();
