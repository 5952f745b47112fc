// Submit forms marked data-autosubmit; without JavaScript the visible button does the same.
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
