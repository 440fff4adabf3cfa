// Passkeys in the browser (WebAuthn Level 3): the one script of the platform's pages, served from
// its own origin (the Content-Security-Policy allows no inline script). It takes over the forms
// marked `data-passkey`:
//   register       fetch creation options, navigator.credentials.create(), post the credential
//   sign-in        fetch request options, navigator.credentials.get(), post the assertion
//   second-factor  the request options are in the page (bound to the password just checked)
// Every post is JSON with the CSRF token in X-CSRF-Token (from the form's `_csrf` field, or
// `data-options-csrf` for the options address); the answer names where to go next. Without this
// script the forms post as ordinary forms and the server says a passkey needs JavaScript.
(function () {
  'use strict';

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    var binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (credential) {
      return Object.assign({}, credential, { id: toBytes(credential.id) });
    });
  }

  /** PublicKeyCredentialCreationOptionsJSON → the options create() takes (WebAuthn L3 §5.4). */
  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials),
    });
  }

  /** PublicKeyCredentialRequestOptionsJSON → the options get() takes (WebAuthn L3 §5.5). */
  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: withIds(json.allowCredentials),
    });
  }

  /** A credential as RegistrationResponseJSON or AuthenticationResponseJSON (WebAuthn L3 §5.1). */
  function credentialJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle && response.userHandle.byteLength)
        out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  /** Posts JSON with the CSRF token; resolves with the answer's JSON, rejects with its problem. */
  function post(url, csrf, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body || {}),
    }).then(function (answer) {
      return answer.json().then(
        function (json) {
          if (!answer.ok) throw { problem: json };
          return json;
        },
        function () {
          throw { problem: { title: 'failed' } };
        },
      );
    });
  }

  function csrfOf(form) {
    var field = form.querySelector('input[name="_csrf"]');
    return field ? field.value : '';
  }

  function showError(form, error) {
    var slot = form.querySelector('[data-passkey-error]');
    var code = 'failed';
    if (error && error.problem && error.problem.title) code = error.problem.title;
    else if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) code = 'cancelled';
    if (code === 'reauthentication-required' && form.dataset.reauth) {
      window.location.assign(form.dataset.reauth);
      return;
    }
    var key = 'msg' + code.replace(/(^|-)([a-z])/g, function (_, __, letter) {
      return letter.toUpperCase();
    });
    if (slot) {
      slot.textContent = form.dataset[key] || form.dataset.msgFailed || code;
      slot.hidden = false;
    }
  }

  function ceremony(form) {
    var kind = form.dataset.passkey;
    var options =
      kind === 'second-factor'
        ? Promise.resolve(JSON.parse(form.dataset.optionsJson))
        : post(form.dataset.options, form.dataset.optionsCsrf);
    return options
      .then(function (json) {
        return kind === 'register'
          ? navigator.credentials.create({ publicKey: creationOptions(json) })
          : navigator.credentials.get({ publicKey: requestOptions(json) });
      })
      .then(function (credential) {
        var body = { response: credentialJson(credential) };
        if (kind === 'register') body.name = form.elements.namedItem('name').value;
        return post(form.action, csrfOf(form), body);
      })
      .then(function (answer) {
        window.location.assign(answer.redirect);
      });
  }

  function start() {
    var forms = document.querySelectorAll('form[data-passkey]');
    for (var i = 0; i < forms.length; i += 1) {
      (function (form) {
        form.addEventListener('submit', function (event) {
          event.preventDefault();
          if (!window.PublicKeyCredential || !navigator.credentials) {
            showError(form, { problem: { title: 'unsupported' } });
            return;
          }
          var button = form.querySelector('button[type="submit"]');
          if (button) button.disabled = true;
          var slot = form.querySelector('[data-passkey-error]');
          if (slot) slot.hidden = true;
          ceremony(form).catch(function (error) {
            if (button) button.disabled = false;
            showError(form, error);
          });
        });
      })(forms[i]);
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
