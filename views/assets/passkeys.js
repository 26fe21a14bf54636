// Nexus passkeys: the one script the hub serves (/assets/passkeys.js), on the pages that use
// WebAuthn: the account center's passkeys page, the sign-in page and the second-factor step. It
// runs under `script-src 'self'`: no inline code, no handlers in attributes; every URL and the
// CSRF token come from data- attributes the server rendered. Without it the pages still work
// (the password form is plain HTML); with it, buttons appear that talk to the authenticator.
'use strict';
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(text) {
    var base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    var binary = atob(base64 + '==='.slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (item) { return Object.assign({}, item, { id: toBytes(item.id) }); });
  }

  /** The server's JSON options, with the binary fields the browser API wants. */
  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, { challenge: toBytes(json.challenge), allowCredentials: withIds(json.allowCredentials) });
  }

  /** A PublicKeyCredential as JSON, the shape @simplewebauthn/server reads. */
  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
      clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (json) {
        if (!answer.ok) throw new Error(json.error || json.error_description || 'Nexus could not use this passkey (' + answer.status + ').');
        return json;
      });
    });
  }

  function say(element, text) {
    if (element) element.textContent = text;
  }

  /** Why the browser gave up, in words for the person in front of it. */
  function reason(error) {
    if (error && error.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again.';
    if (error && error.name === 'InvalidStateError') return 'This passkey is already registered in your account.';
    return (error && error.message) || 'Something went wrong with the passkey. Try again.';
  }

  // The account center: "Add a passkey".
  var addForm = document.getElementById('passkey-add');
  if (addForm) {
    addForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var status = document.getElementById('passkey-status');
      var csrf = addForm.elements.namedItem('csrf').value;
      var name = addForm.elements.namedItem('name').value;
      say(status, 'Follow your browser’s prompt to create the passkey…');
      post(addForm.dataset.options, { csrf: csrf })
        .then(function (options) { return navigator.credentials.create({ publicKey: creationOptions(options) }); })
        .then(function (credential) { return post(addForm.action, { csrf: csrf, name: name, credential: credentialJSON(credential) }); })
        .then(function (answer) { window.location.assign(answer.redirect); })
        .catch(function (error) { say(status, reason(error)); });
    });
  }

  // Sign-in with a passkey: passwordless on the sign-in page, or the second factor.
  var signIn = document.getElementById('passkey-signin');
  if (signIn) {
    var button = signIn.querySelector('button');
    var status = signIn.querySelector('[role="status"]');
    var data = signIn.dataset;
    var pending = null;

    var run = function (mediation) {
      if (pending) pending.abort();
      var controller = new AbortController();
      pending = controller;
      return post(data.options, { csrf: data.csrf })
        .then(function (options) {
          var request = { publicKey: requestOptions(options), signal: controller.signal };
          if (mediation) request.mediation = mediation;
          return navigator.credentials.get(request);
        })
        .then(function (credential) { return post(data.verify, { csrf: data.csrf, credential: credentialJSON(credential) }); })
        .then(function (answer) { window.location.assign(answer.redirect); });
    };

    signIn.hidden = false;
    button.addEventListener('click', function () {
      say(status, 'Follow your browser’s prompt to use your passkey…');
      run(null).catch(function (error) { say(status, reason(error)); });
    });
    // Autofill: the passkeys of this site offered in the email field's suggestions.
    if (data.conditional === 'true' && typeof PublicKeyCredential.isConditionalMediationAvailable === 'function') {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        // Aborted when the button takes over; any other failure is the person's to read.
        run('conditional').catch(function (error) { if (!error || error.name !== 'AbortError') say(status, reason(error)); });
      });
    }
  }
})();
